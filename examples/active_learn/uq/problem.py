"""A 1-D regression problem for the UQ example (numpy only).

Target: y = sin(3x) + 0.3x on [-2, 2]. Two model families ("rbf": ridge on Gaussian bumps,
"poly": ridge polynomial); a Monte-Carlo prediction is one fit on a bootstrap resample.
"""

from __future__ import annotations

import os
import sys

import numpy as np

POOL = np.linspace(-2, 2, 201)


def option(name: str, default: str) -> str:
    """The value after ``name`` on the command line, or ``default``."""
    argv = sys.argv[1:]
    return argv[argv.index(name) + 1] if name in argv else default


def target(x: np.ndarray) -> np.ndarray:
    """The expensive simulation."""
    return np.sin(3 * x) + 0.3 * x


def design(model: str, x: np.ndarray) -> np.ndarray:
    """The features of model family ``model``."""
    if model == "rbf":
        return np.exp(-(((x[:, None] - np.linspace(-2, 2, 15)) / 0.4) ** 2))
    if model == "poly":
        return np.vander(x / 2.0, 8, increasing=True)
    raise SystemExit(f"unknown model {model!r}: use rbf or poly")


def fit(model: str, x: np.ndarray, y: np.ndarray, seed: int | None = None) -> np.ndarray:
    """Ridge fit (on a bootstrap resample when ``seed`` is given)."""
    if seed is not None:
        idx = np.random.default_rng(seed).integers(0, len(x), len(x))
        x, y = x[idx], y[idx]
    a = design(model, x)
    return np.linalg.solve(a.T @ a + 1e-3 * np.eye(a.shape[1]), a.T @ y)


def load(name: str) -> dict[str, np.ndarray] | None:
    """An .npz file of the working directory as a dict, or None."""
    if not os.path.exists(name):
        return None
    with np.load(name) as data:
        return {key: data[key] for key in data.files}
