"""``ActiveLearnTasks``: what makes a learner an active learner (its task kinds and configuration class)."""

from __future__ import annotations

from typing import ClassVar

from rose.config import LearnerConfig
from rose.tasks import TaskKind
from rose_plugin_al.config import ActiveLearnerConfig

__all__ = ["ActiveLearnTasks"]


class ActiveLearnTasks:
    """Mixin of the active-learning learners: ``@learner.active_learn_task``, ``prediction_task``
    and ``utility_task``, and ``config_class`` = :class:`~rose_plugin_al.config.ActiveLearnerConfig`.

    Put it before :class:`rose.learner.Learner` among the bases:
    ``class MyLearner(ActiveLearnTasks, Learner)``.
    """

    config_class: ClassVar[type[LearnerConfig]] = ActiveLearnerConfig
    active_learn_task = TaskKind("active_learn")
    prediction_task = TaskKind("prediction")
    utility_task = TaskKind("utility")
