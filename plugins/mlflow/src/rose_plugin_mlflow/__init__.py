"""rose-plugin-mlflow: MLflow experiment tracking for ROSE learners.

``learner.add_tracker(rose.tracker("mlflow", experiment_name="ROSE_AL_Experiment"))`` or
``from rose_plugin_mlflow import MLflowTracker``. Importing this package is cheap: the
tracker module loads on first use, and MLflow itself (seconds to import) loads only in the
tracker's writer process (:mod:`rose_plugin_mlflow.writer_process`), never in the campaign's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rose_plugin_mlflow.tracker import MLflowTracker

__all__ = ["MLflowTracker"]


def __getattr__(name: str) -> Any:
    if name == "MLflowTracker":
        from rose_plugin_mlflow.tracker import MLflowTracker

        return MLflowTracker
    raise AttributeError(f"module 'rose_plugin_mlflow' has no attribute {name!r}")
