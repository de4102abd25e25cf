"""Schedules: map an iteration number to a task configuration or a value.

Task schedules (``Schedule``) are what ``create_adaptive_schedule`` and
``create_iteration_schedule`` return and what a ``LearnerConfig`` field may hold. Value
schedules (constant, step decay, exponential decay, cosine) are plain functions
``iteration -> value`` registered through the ``rose_schedulers`` hook and used inside an
adaptive schedule::

    lr = rose.scheduler("cosine", start=0.01, stop=0.001, period=20)
    train_cfg = learner.create_adaptive_schedule(
        "training", lambda i: {"kwargs": {"--learning_rate": lr(i)}})
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rose.config import TaskConfig

__all__ = [
    "AdaptiveSchedule",
    "IterationSchedule",
    "Schedule",
    "constant",
    "cosine",
    "exponential_decay",
    "step_decay",
]


class Schedule:
    """Base class: ``config_for(iteration)`` returns a TaskConfig or None (defaults)."""

    task_name: str = ""

    def config_for(self, iteration: int) -> TaskConfig | None:  # pragma: no cover - abstract
        """The task configuration for ``iteration``."""
        raise NotImplementedError

    def __getitem__(self, iteration: int) -> TaskConfig | None:
        return self.config_for(iteration)


class AdaptiveSchedule(Schedule):
    """Calls ``fn(iteration)`` lazily, once per iteration, for any iteration number.

    ``fn`` returns ``{"args": ..., "kwargs": ...}`` (either key optional), a TaskConfig,
    or None to use the task's defaults.
    """

    def __init__(self, task_name: str, fn: Callable[[int], Any]) -> None:
        if not callable(fn):
            raise TypeError(
                f"create_adaptive_schedule({task_name!r}, fn): fn must be a function of the "
                f"iteration number, got {fn!r}"
            )
        self.task_name = task_name
        self.fn = fn
        self._cache: dict[int, TaskConfig | None] = {}

    def config_for(self, iteration: int) -> TaskConfig | None:
        """Evaluate (and remember) the schedule for ``iteration``."""
        from rose.config import TaskConfig

        if iteration not in self._cache:
            value = self.fn(iteration)
            self._cache[iteration] = (
                None
                if value is None
                else TaskConfig.coerce(
                    value, where=f"adaptive schedule for {self.task_name!r} at iteration {iteration}"
                )
            )
        return self._cache[iteration]

    def __repr__(self) -> str:
        return f"AdaptiveSchedule({self.task_name!r}, {getattr(self.fn, '__name__', self.fn)})"


class IterationSchedule(Schedule, Mapping[Any, "TaskConfig"]):
    """Fixed checkpoints: exact iteration, then ``-1``, then ``"default"``, else None."""

    def __init__(self, task_name: str, schedule: Mapping[Any, Any]) -> None:
        from rose.config import TaskConfig

        if not isinstance(schedule, Mapping):
            raise TypeError(
                f"create_iteration_schedule({task_name!r}, schedule): schedule must be a dict "
                f"like {{0: {{'kwargs': {{...}}}}, -1: {{...}}}}, got {schedule!r}"
            )
        self.task_name = task_name
        self._items: dict[Any, TaskConfig] = {}
        for key, value in schedule.items():
            if not (isinstance(key, int) and not isinstance(key, bool)) and key != "default":
                raise TypeError(
                    f"create_iteration_schedule({task_name!r}): keys must be iteration "
                    f"numbers, -1 or 'default'; got {key!r}"
                )
            self._items[key] = TaskConfig.coerce(
                value, where=f"iteration schedule for {task_name!r}[{key!r}]"
            )

    def config_for(self, iteration: int) -> TaskConfig | None:
        """Exact iteration, then -1, then 'default', else None."""
        for key in (iteration, -1, "default"):
            if key in self._items:
                return self._items[key]
        return None

    def __getitem__(self, key: Any) -> TaskConfig:  # type: ignore[override]
        return self._items[key]

    def __iter__(self) -> Any:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"IterationSchedule({self.task_name!r}, {self._items!r})"


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
