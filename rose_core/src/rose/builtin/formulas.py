"""Reference implementations of the built-in error metrics (pure Python, any sequences)."""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["accuracy", "mae", "mse", "r2", "rmse"]


def _pairs(y_true: Sequence[float], y_pred: Sequence[float]) -> list[tuple[float, float]]:
    true, pred = list(y_true), list(y_pred)
    if len(true) != len(pred) or not true:
        raise ValueError(f"need two non-empty sequences of equal length, got {len(true)} and {len(pred)}")
    return [(float(a), float(b)) for a, b in zip(true, pred)]


def mse(y_true: Sequence[float], y_pred: Sequence[float]) -> float:
    """Mean squared error."""
    pairs = _pairs(y_true, y_pred)
    return sum((a - b) ** 2 for a, b in pairs) / len(pairs)


def rmse(y_true: Sequence[float], y_pred: Sequence[float]) -> float:
    """Root mean squared error."""
    return math.sqrt(mse(y_true, y_pred))


def mae(y_true: Sequence[float], y_pred: Sequence[float]) -> float:
    """Mean absolute error."""
    pairs = _pairs(y_true, y_pred)
    return sum(abs(a - b) for a, b in pairs) / len(pairs)


def r2(y_true: Sequence[float], y_pred: Sequence[float]) -> float:
    """Coefficient of determination (1 is perfect)."""
    pairs = _pairs(y_true, y_pred)
    mean = sum(a for a, _ in pairs) / len(pairs)
    total = sum((a - mean) ** 2 for a, _ in pairs)
    residual = sum((a - b) ** 2 for a, b in pairs)
    return 1.0 - residual / total if total else (1.0 if residual == 0 else 0.0)


def accuracy(y_true: Sequence[object], y_pred: Sequence[object]) -> float:
    """Share of equal labels."""
    true, pred = list(y_true), list(y_pred)
    if len(true) != len(pred) or not true:
        raise ValueError(f"need two non-empty sequences of equal length, got {len(true)} and {len(pred)}")
    return sum(a == b for a, b in zip(true, pred)) / len(true)
