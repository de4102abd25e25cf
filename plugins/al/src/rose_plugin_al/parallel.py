"""``ParallelActiveLearner``: several independent active-learning loops at once."""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Sequence
from typing import Any

from rose.campaign import Plan
from rose.config import LearnerConfig
from rose.fanout import Child, configs_manifest, configs_per_child, fan_out, make_child_learner
from rose.learner import Learner
from rose.state import IterationState
from rose.streaming import LearnerRun
from rose_plugin_al.sequential import SequentialActiveLearner, require_simulation

__all__ = ["ParallelActiveLearner"]

logger = logging.getLogger("rose_plugin_al")


class ParallelActiveLearner(Learner):
    """Run ``parallel_learners`` sequential active-learning loops concurrently.

    Every learner runs the tasks registered on this object, with its own
    ``LearnerConfig`` (``None`` keeps the tasks' own defaults), its own stop criterion
    check and its own working directory ``<run_dir>/learner-<i>``. ``async for state in
    acl.start(...)`` interleaves the learners' states (each tagged with ``learner_id`` = its
    index); ``await acl.start(...)`` returns the list of final states. One learner failing is
    logged with its id while the others go on (the run then raises
    :class:`rose.errors.LearnerFailedError` at the end); ``fail_fast=True`` stops all at the
    first failure.
    """

    required_tasks = ("training", "active_learn")

    @property
    def learners(self) -> list[Learner]:
        """The learners of the current (or last) run, by index."""
        return list(self.children)

    def validate(  # type: ignore[override]
        self, max_iter: int = 0, parallel_learners: int = 2, skip_simulation_step: bool = False, **options: Any
    ) -> None:
        """Check the learner count, the tasks and max_iter/criterion."""
        if not isinstance(parallel_learners, int) or isinstance(parallel_learners, bool) or parallel_learners < 2:
            raise ValueError(
                f"{type(self).__name__} needs parallel_learners >= 2, got {parallel_learners!r}; "
                f"for a single learner use SequentialActiveLearner"
            )
        self.check_tasks(self.required_tasks)
        require_simulation(self, skip_simulation_step)
        super().validate(max_iter)

    def start(  # type: ignore[override]
        self,
        parallel_learners: int = 2,
        max_iter: int = 0,
        skip_pre_loop: bool = False,
        skip_simulation_step: bool = False,
        learner_configs: Sequence[LearnerConfig | None] | None = None,
        fail_fast: bool = False,
        resume: str | os.PathLike[str] | bool | None = None,
    ) -> LearnerRun:
        """Run the learners: ``async for state in acl.start(...)`` or ``await acl.start(...)``.

        Everything is validated here, before any task runs. ``learner_configs`` has one
        entry per learner (a ``LearnerConfig`` or ``None`` for the base task defaults).
        ``resume=RUN_DIR`` (``True``: the newest) continues an interrupted campaign: each
        learner resumes from its own journal (``RUN_DIR/learner-<i>``) where it was.
        """
        self.validate(max_iter, parallel_learners, skip_simulation_step)
        ids = list(range(parallel_learners))
        configs = configs_per_child(ids, learner_configs, owner=type(self).__name__)
        plan = Plan(max_iter=max_iter, skip_pre_loop=skip_pre_loop, resume=resume,
                    manifest=configs_manifest(configs))
        logger.info("Starting parallel active learning with %d learners", parallel_learners)

        def make_child(learner_id: Any, directory: str) -> Child:
            child = make_child_learner(self, SequentialActiveLearner, learner_id, directory)
            return Child(
                learner_id=learner_id, learner=child,
                start=lambda resume_dir: child.start(max_iter, skip_pre_loop, skip_simulation_step,
                                                     configs[learner_id], resume=resume_dir),
            )

        return fan_out(self, plan, ids, make_child, fail_fast=fail_fast)

    async def teach(
        self,
        parallel_learners: int = 2,
        max_iter: int = 0,
        skip_pre_loop: bool = False,
        skip_simulation_step: bool = False,
        learner_configs: Sequence[LearnerConfig | None] | None = None,
    ) -> list[IterationState]:
        """Deprecated: use ``await acl.start(...)``; returns the final state of each learner."""
        warnings.warn("teach() is deprecated; use `await acl.start(...)`", DeprecationWarning, stacklevel=2)
        result: list[IterationState] = await self.start(
            parallel_learners, max_iter, skip_pre_loop, skip_simulation_step, learner_configs
        )
        return result
