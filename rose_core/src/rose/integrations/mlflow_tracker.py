"""ROSE 0.3 path ``rose.integrations.mlflow_tracker``: ``MLflowTracker`` from rose-plugin-mlflow.

New code: ``rose.tracker("mlflow", experiment_name=...)``.
"""

from __future__ import annotations

from rose._compat import alias_module

__getattr__, __dir__, __all__ = alias_module(
    __name__,
    plugin={"MLflowTracker": ("rose_plugin_mlflow.tracker", "rose-plugin-mlflow")},
    core={"TrackerBase": "rose.tracking"},
)
