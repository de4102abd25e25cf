"""The one table of ROSE 0.3 import paths that keep working, where each name lives now, and
the release that removes them.

``rose.al``, ``rose.uq`` and ``rose.rl`` resolve learner names through the plugin registry
(the plugins declare the namespaces they fill). The 0.3 module paths below
(``rose.al.active_learner``, ``rose.integrations.mlflow_tracker``...) are small modules built
by :func:`rose._compat.alias_module` from their entry here. :data:`PLUGIN_TASK_KINDS` lists the
task kinds the core no longer declares. This is the only place in the core that names plugin
distributions or their task kinds: to tell a user which one to install.
"""

from __future__ import annotations

from collections.abc import Mapping

from attrs import field, frozen

__all__ = ["OLD_MODULES", "PLUGIN_TASK_KINDS", "PROVIDERS", "REMOVED_IN", "OldModule"]

#: the release that removes every path of this table
REMOVED_IN = "0.6"

#: which distribution fills each ``rose.<namespace>`` (named in the ImportError when it is missing)
PROVIDERS: Mapping[str, str] = {
    "al": "rose-plugin-al",
    "uq": "rose-plugin-al",
    "rl": "rose-plugin-rl",
    "rl.reinforcement_learner": "rose-plugin-rl",
    "rl.experience": "rose-plugin-rl",
}


#: the task kinds (and ``LearnerConfig`` fields) that the core declared up to ROSE 0.5, and the distribution
#: that declares each now. Not deprecated: with the plugin installed, ``LearnerConfig(active_learn=...)`` and
#: ``@learner.active_learn_task`` on a plain ``Learner`` work as before (through the registry, see
#: :mod:`rose.kinds`); without it, the error names the distribution to install.
PLUGIN_TASK_KINDS: Mapping[str, str] = {
    "active_learn": "rose-plugin-al",
    "prediction": "rose-plugin-al",
    "uncertainty": "rose-plugin-al",
    "utility": "rose-plugin-al",
    "environment": "rose-plugin-rl",
    "update": "rose-plugin-rl",
}


@frozen(kw_only=True)
class OldModule:
    """A ROSE 0.3 module path: names from the registry (``namespace``), the core, or one plugin module.

    ``plugin`` maps a name to ``(module, distribution)``.
    """

    namespace: str | None = None
    registry: tuple[str, ...] = ()
    core: Mapping[str, str] = field(factory=dict)
    plugin: Mapping[str, tuple[str, str]] = field(factory=dict)


_CONFIGS = {"LearnerConfig": "rose.config", "TaskConfig": "rose.config"}

#: every ROSE 0.3 module path kept until :data:`REMOVED_IN`
OLD_MODULES: Mapping[str, OldModule] = {
    "rose.al.active_learner": OldModule(
        namespace="al", registry=("SequentialActiveLearner", "ParallelActiveLearner"),
        core={**_CONFIGS, "IterationState": "rose.state", "Learner": "rose.learner"},
    ),
    "rose.al.selector": OldModule(namespace="al", registry=("AlgorithmSelector",), core=_CONFIGS),
    "rose.uq.uq_active_learner": OldModule(
        namespace="uq", registry=("SeqUQLearner", "ParallelUQLearner", "UQLearnerConfig"), core=_CONFIGS,
    ),
    "rose.uq.uq_learner": OldModule(namespace="uq", registry=("UQLearner", "UQLearnerConfig"), core=_CONFIGS),
    "rose.uq.uq_scorer": OldModule(namespace="uq", registry=("UQScorer", "register_uq", "UQ_REGISTRY")),
    "rose.integrations.mlflow_tracker": OldModule(
        plugin={"MLflowTracker": ("rose_plugin_mlflow.tracker", "rose-plugin-mlflow")},
        core={"TrackerBase": "rose.tracking"},
    ),
    "rose.integrations.clearml_tracker": OldModule(
        plugin={"ClearMLTracker": ("rose_plugin_clearml.tracker", "rose-plugin-clearml")},
        core={"TrackerBase": "rose.tracking"},
    ),
}
