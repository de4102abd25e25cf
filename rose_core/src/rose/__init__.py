"""ROSE: orchestrate active-learning, reinforcement-learning and surrogate campaigns.

The core is small and fast to import; learners, backends and trackers come from plugins
(``rose plugins`` lists them). Everything users import from ``rose`` is listed in
``__all__``; heavy pieces load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import rose.engine as _engine_module  # bound first, so the function below keeps the name
from rose.config import LearnerConfig, TaskConfig
from rose.errors import ResourceError, RoseError, TaskFailedError
from rose.hookspecs import hookimpl
from rose.placeholders import is_placeholder
from rose.records import Resources
from rose.state import IterationState
from rose.tracking import PipelineManifest, TrackerBase

if TYPE_CHECKING:
    from rose.campaign import Outcome, Step
    from rose.learner import Learner, TaskKind

__all__ = [
    "IterationState",
    "Learner",
    "LearningMetrics",
    "LearnerConfig",
    "Outcome",
    "PipelineManifest",
    "ResourceError",
    "Resources",
    "RoseError",
    "Step",
    "TaskConfig",
    "TaskFailedError",
    "TaskKind",
    "TrackerBase",
    "engine",
    "hookimpl",
    "is_placeholder",
    "policy",
    "scheduler",
    "tracker",
]

_LAZY = {
    "Learner": "rose.learner",
    "TaskKind": "rose.learner",
    "LearningMetrics": "rose.metrics",
    "Outcome": "rose.campaign",
    "Step": "rose.campaign",
}

#: ROSE 0.3's ``rose`` exposed these submodules as attributes (``rose.active_learner``)
_SUBMODULES_03 = {
    "active_learner": "rose.al.active_learner",
    "selector": "rose.al.selector",
    "reinforcement_learner": "rose.rl.reinforcement_learner",
    "uq_learner": "rose.uq.uq_learner",
    "uq_active_learner": "rose.uq.uq_active_learner",
    "uq_scorer": "rose.uq.uq_scorer",
    # written as `rose.progress.ProgressTracker()` in earlier docs (a deprecated alias, with its warning)
    "progress": "rose.progress",
}


def __getattr__(name: str) -> Any:
    import importlib

    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _SUBMODULES_03:
        return importlib.import_module(_SUBMODULES_03[name])
    if name.isupper():  # `rose.MEAN_SQUARED_ERROR_MSE`, as ROSE 0.3's `from rose.metrics import *` gave
        metrics = importlib.import_module("rose.metrics")
        if name in metrics.METRIC_CONSTANTS:
            return getattr(metrics, name)
    raise AttributeError(f"module 'rose' has no attribute {name!r}")


def engine(name: str = "local", *, work_dir: str | None = None, **options: Any) -> _engine_module.EngineHandle:
    """A radical.asyncflow WorkflowEngine on backend plugin ``name``.

    ``engine = await rose.engine("local")`` or ``async with rose.engine("dask") as e:``.
    """
    return _engine_module.engine(name, work_dir=work_dir, **options)


def tracker(name: str, **options: Any) -> Any:
    """An experiment tracker from plugin ``name``: ``rose.tracker("mlflow", experiment_name=...)``."""
    from rose.plugins import lookup

    return lookup("tracker", name).factory(**options)


def policy(name: str, **options: Any) -> Any:
    """A query policy from plugin ``name``: ``rose.policy("max-variance")`` (see :mod:`rose.policies`)."""
    from rose.plugins import lookup

    return lookup("policy", name).factory(**options)


def scheduler(name: str, **options: Any) -> Any:
    """A value schedule ``iteration -> value``: ``rose.scheduler("cosine", start=0.1, stop=0.01)``."""
    from rose.plugins import lookup

    return lookup("scheduler", name).factory(**options)
