"""ROSE 0.3 path ``rose.integrations.mlflow_tracker``: ``MLflowTracker`` from the MLflow plugin.

New code: ``rose.tracker("mlflow", experiment_name=...)``.
"""

from __future__ import annotations

from rose._compat import alias_module

__getattr__, __dir__, __all__ = alias_module(__name__)
