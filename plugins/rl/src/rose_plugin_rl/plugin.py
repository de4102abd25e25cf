"""Entry point ``rl``: registers the reinforcement learners and experience banks (cheap to import)."""

from __future__ import annotations

from rose.hookspecs import hookimpl
from rose.plugins import lazy
from rose.records import LearnerKindSpec, LearnerSpec

_LEARNERS = ("rl", "rl.reinforcement_learner")
_EXPERIENCE = ("rl", "rl.experience")


@hookimpl
def rose_learners() -> list[LearnerSpec]:
    """The RL learners (``rose.rl.reinforcement_learner``) and experience types (``rose.rl.experience``)."""
    module = "rose_plugin_rl.reinforcement_learner"
    experience = "rose_plugin_rl.experience"
    errors = "rose_plugin_rl.errors"
    return [
        LearnerSpec(
            name="SequentialReinforcementLearner",
            summary="environment -> update -> criterion, one loop",
            factory=lazy(f"{module}:SequentialReinforcementLearner"),
            namespaces=_LEARNERS,
        ),
        LearnerSpec(
            name="ParallelReinforcementLearner",
            summary="several independent RL loops with per-learner configurations",
            factory=lazy(f"{module}:ParallelReinforcementLearner"),
            namespaces=_LEARNERS,
        ),
        LearnerSpec(
            name="ParallelExperience",
            summary="named environment tasks in parallel, experience banks merged, one update",
            factory=lazy(f"{module}:ParallelExperience"),
            namespaces=_LEARNERS,
        ),
        LearnerSpec(
            name="ReinforcementLearner",
            summary="base class of the RL learners (environment and update task kinds)",
            factory=lazy(f"{module}:ReinforcementLearner"),
            namespaces=_LEARNERS,
        ),
        LearnerSpec(
            name="ReinforcementLearnerConfig",
            summary="LearnerConfig with the reinforcement-learning task kinds (environment, update)",
            factory=lazy("rose_plugin_rl.config:ReinforcementLearnerConfig"),
            namespaces=_LEARNERS,
            role="support",
        ),
        LearnerSpec(
            name="EnvironmentTaskError",
            summary="raised when environment tasks of a ParallelExperience iteration fail",
            factory=lazy(f"{errors}:EnvironmentTaskError"),
            namespaces=_LEARNERS,
            role="support",
        ),
        LearnerSpec(
            name="Experience",
            summary="one transition: state, action, reward, next_state, done, info",
            factory=lazy(f"{experience}:Experience"),
            namespaces=_EXPERIENCE,
            role="support",
        ),
        LearnerSpec(
            name="ExperienceBank",
            summary="FIFO store of experiences: sample, merge, save/load (.npz, no pickle)",
            factory=lazy(f"{experience}:ExperienceBank"),
            namespaces=_EXPERIENCE,
            role="support",
        ),
        LearnerSpec(
            name="create_experience",
            summary="build an Experience",
            factory=lazy(f"{experience}:create_experience"),
            namespaces=_EXPERIENCE,
            role="support",
        ),
        LearnerSpec(
            name="ExperienceBankError",
            summary="an experience bank file is missing, corrupt or cannot be written",
            factory=lazy(f"{errors}:ExperienceBankError"),
            namespaces=_EXPERIENCE,
            role="support",
        ),
    ]


@hookimpl
def rose_learner_kinds() -> list[LearnerKindSpec]:
    """The reinforcement-learning kind: ``LearnerConfig(environment=...)`` builds a ``ReinforcementLearnerConfig``."""
    return [LearnerKindSpec(name="rl", summary="reinforcement learning",
                            factory=lazy("rose_plugin_rl.config:ReinforcementLearnerConfig"))]
