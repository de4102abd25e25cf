"""``ActiveLearnerConfig``: the task configuration of the active-learning and uncertainty learners."""

from __future__ import annotations

from attrs import define

from rose.config import LearnerConfig, TaskConfigValue, task_field

__all__ = ["ActiveLearnerConfig"]


@define(kw_only=True, eq=True)
class ActiveLearnerConfig(LearnerConfig):
    """:class:`rose.config.LearnerConfig` with the active-learning task kinds.

    ``LearnerConfig(active_learn=TaskConfig(...))`` builds one (so does any of these fields), and
    so does ``ActiveLearnerConfig(...)`` by name. ``UQLearnerConfig`` is its ROSE 0.3 name.
    """

    prediction: TaskConfigValue = task_field()
    active_learn: TaskConfigValue = task_field()
    uncertainty: TaskConfigValue = task_field()
    utility: TaskConfigValue = task_field()
