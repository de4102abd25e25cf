"""Schedules: map an iteration number to a task configuration or a value.

Task schedules (``Schedule``) are what ``create_adaptive_schedule`` and
``create_iteration_schedule`` return and what a ``LearnerConfig`` field may hold; they live
in :mod:`rose.config` and are re-exported here. Value
schedules (constant, step decay, exponential decay, cosine) are plain functions
``iteration -> value`` registered through the ``rose_schedulers`` hook and used inside an
adaptive schedule::

    lr = rose.scheduler("cosine", start=0.01, stop=0.001, period=20)
    train_cfg = learner.create_adaptive_schedule(
        "training", lambda i: {"kwargs": {"--learning_rate": lr(i)}})
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from rose.config import AdaptiveSchedule, IterationSchedule, Schedule

__all__ = [
    "AdaptiveSchedule",
    "IterationSchedule",
    "Schedule",
    "constant",
    "cosine",
    "exponential_decay",
    "step_decay",
]


# -- value schedules (registered as built-in schedulers) -------------------------------


def constant(value: Any) -> Callable[[int], Any]:
    """Always ``value``."""
    return lambda i: value


def step_decay(start: float, factor: float = 0.5, every: int = 10) -> Callable[[int], float]:
    """``start * factor ** (i // every)``: drops by ``factor`` every ``every`` iterations."""
    if every < 1:
        raise ValueError(f"step_decay: every must be >= 1, got {every}")
    return lambda i: start * factor ** (i // every)


def exponential_decay(start: float, rate: float = 0.95, floor: float = 0.0) -> Callable[[int], float]:
    """``max(floor, start * rate ** i)``."""
    return lambda i: max(floor, start * rate**i)


def cosine(start: float, stop: float = 0.0, period: int = 10) -> Callable[[int], float]:
    """Cosine annealing from ``start`` to ``stop`` over ``period`` iterations, then ``stop``."""
    if period < 1:
        raise ValueError(f"cosine: period must be >= 1, got {period}")

    def value(i: int) -> float:
        t = min(i, period) / period
        return stop + (start - stop) * 0.5 * (1 + math.cos(math.pi * t))

    return value
