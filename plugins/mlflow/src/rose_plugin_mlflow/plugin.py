"""Entry point ``mlflow``: registers the ``mlflow`` tracker (cheap to import; no MLflow import)."""

from __future__ import annotations

from typing import Any

from rose.hookspecs import hookimpl
from rose.records import TrackerSpec


def make_tracker(**options: Any) -> Any:
    """``rose.tracker("mlflow", **options)``: an :class:`~rose_plugin_mlflow.MLflowTracker`."""
    from rose_plugin_mlflow.tracker import MLflowTracker

    return MLflowTracker(**options)


@hookimpl
def rose_trackers() -> list[TrackerSpec]:
    """The MLflow tracker."""
    return [
        TrackerSpec(
            name="mlflow",
            summary="MLflow runs: params, per-iteration metrics, learning curve, nested runs per learner",
            factory=make_tracker,
        )
    ]
