"""ROSE's own metrics, schedulers and trackers, registered through the same hooks."""

from __future__ import annotations

from rose.hookspecs import hookimpl
from rose.metrics import BUILTIN_METRICS
from rose.plugins import lazy, lazy_call
from rose.records import MetricSpec, SchedulerSpec, TrackerSpec

_COMPUTE = {
    "mean_squared_error_mse": "rose.builtin.formulas:mse",
    "root_mean_squared_error_rmse": "rose.builtin.formulas:rmse",
    "mean_absolute_error_mae": "rose.builtin.formulas:mae",
    "r2_score": "rose.builtin.formulas:r2",
    "model_accuracy": "rose.builtin.formulas:accuracy",
}


@hookimpl
def rose_metrics() -> list[MetricSpec]:
    """Every metric constant of ``rose.metrics`` with its direction."""
    return [
        MetricSpec(
            name=name,
            summary=summary,
            operator=operator,
            factory=lazy(_COMPUTE[name]) if name in _COMPUTE else None,
        )
        for name, operator, summary in BUILTIN_METRICS
    ]


@hookimpl
def rose_schedulers() -> list[SchedulerSpec]:
    """constant, step, exponential and cosine value schedules."""
    from rose import schedules

    return [
        SchedulerSpec(name="constant", summary="the same value every iteration", factory=schedules.constant),
        SchedulerSpec(name="step", summary="start * factor ** (i // every)", factory=schedules.step_decay),
        SchedulerSpec(name="exponential", summary="max(floor, start * rate ** i)", factory=schedules.exponential_decay),
        SchedulerSpec(name="cosine", summary="cosine annealing from start to stop", factory=schedules.cosine),
    ]


@hookimpl
def rose_trackers() -> list[TrackerSpec]:
    """``console`` (log lines), ``jsonl`` (a JSON-lines file) and ``progress`` (a live view)."""
    return [
        TrackerSpec(
            name="progress", summary="live per-learner view (rich on a terminal)",
            factory=lazy_call("rose.builtin.progress:ProgressTracker"),
        ),
        TrackerSpec(
            name="console", summary="one log line per iteration", factory=lazy_call("rose.builtin.trackers:ConsoleTracker")
        ),
        TrackerSpec(
            name="jsonl", summary="JSON lines file of every event", factory=lazy_call("rose.builtin.trackers:JsonlTracker")
        ),
    ]
