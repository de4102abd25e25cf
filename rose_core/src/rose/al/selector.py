"""ROSE 0.3 path ``rose.al.selector``: ``AlgorithmSelector`` (rose-plugin-al); new code: ``rose.al``."""

from __future__ import annotations

from rose._compat import alias_module

__getattr__, __dir__, __all__ = alias_module(
    __name__,
    namespace="al",
    registry_names=("AlgorithmSelector",),
    core={"LearnerConfig": "rose.config", "TaskConfig": "rose.config"},
)
