"""rose-plugin-hello: a whole third-party ROSE plugin in one short module."""

from __future__ import annotations

import logging
from collections.abc import Callable

import rose
from rose.records import MetricSpec, SchedulerSpec, TrackerSpec

log = logging.getLogger(__name__)


class HelloTracker(rose.TrackerBase):
    """Greets every iteration in the log."""

    def __init__(self, greeting: str = "hello") -> None:
        self.greeting = greeting
        self.seen: list[int] = []

    def on_iteration(self, state: rose.IterationState) -> None:
        """Log a greeting with the iteration's metric."""
        self.seen.append(state.iteration)
        log.info("%s from iteration %d: %s", self.greeting, state.iteration, state.metric_value)


def halving(start: float = 1.0) -> Callable[[int], float]:
    """A value schedule that halves every iteration."""
    return lambda i: start / 2**i


@rose.hookimpl
def rose_trackers() -> list[TrackerSpec]:
    """Provide the ``hello`` tracker."""
    return [TrackerSpec(name="hello", summary="greets every iteration", factory=HelloTracker)]


@rose.hookimpl
def rose_metrics() -> list[MetricSpec]:
    """Provide the ``hello_score`` metric (higher is better)."""
    return [MetricSpec(name="hello_score", summary="friendliness, higher is better", operator=">=")]


@rose.hookimpl
def rose_schedulers() -> list[SchedulerSpec]:
    """Provide the ``halving`` schedule."""
    return [SchedulerSpec(name="halving", summary="start / 2**i", factory=halving)]
