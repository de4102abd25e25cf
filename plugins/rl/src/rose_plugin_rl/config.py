"""``ReinforcementLearnerConfig``: the task configuration of the reinforcement learners."""

from __future__ import annotations

from attrs import define

from rose.config import LearnerConfig, TaskConfigValue, task_field

__all__ = ["ReinforcementLearnerConfig"]


@define(kw_only=True, eq=True)
class ReinforcementLearnerConfig(LearnerConfig):
    """:class:`rose.config.LearnerConfig` with the reinforcement-learning task kinds.

    ``LearnerConfig(environment=TaskConfig(...))`` builds one (so does ``update=``), and so does
    ``ReinforcementLearnerConfig(...)`` by name. ``tasks={"env_1": ...}`` addresses one of
    several named environment tasks of a ``ParallelExperience``.
    """

    environment: TaskConfigValue = task_field()
    update: TaskConfigValue = task_field()
