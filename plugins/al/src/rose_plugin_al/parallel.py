"""``ParallelActiveLearner``: several independent active-learning loops at once."""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import AsyncIterator, Sequence
from typing import Any

from rose import overrides
from rose.config import LearnerConfig
from rose.journal import JOURNAL_NAME
from rose.learner import Learner
from rose.state import IterationState
from rose.streaming import LearnerRun
from rose_plugin_al._common import (
    ParallelManifestMixin,
    adopt_tasks,
    check_config,
    check_required_tasks,
    combined_stop_reason,
    learner_dir,
    merged_campaign,
)
from rose_plugin_al.sequential import SequentialActiveLearner

__all__ = ["ParallelActiveLearner"]

logger = logging.getLogger("rose_plugin_al")


class ParallelActiveLearner(ParallelManifestMixin, Learner):
    """Run ``parallel_learners`` sequential active-learning loops concurrently.

    Every learner runs the tasks registered on this object, with its own
    ``LearnerConfig`` (``None`` keeps the tasks' own defaults), its own stop criterion
    check and its own working directory ``<run_dir>/learner-<i>`` for executable tasks.
    ``async for state in acl.start(...)`` interleaves the learners' states (each tagged
    with ``learner_id`` = its index); ``await acl.start(...)`` returns the list of final
    states. One learner failing is logged with its id while the others go on (the run
    then raises :class:`rose.errors.LearnerFailedError` at the end); ``fail_fast=True``
    stops all at the first failure.
    """

    required_tasks = ("training", "active_learn")

    def __init__(self, asyncflow: Any = None, **options: Any) -> None:
        super().__init__(asyncflow, **options)
        self.learners: list[SequentialActiveLearner] = []

    def validate(  # type: ignore[override]
        self,
        parallel_learners: int = 2,
        max_iter: int = 0,
        skip_pre_loop: bool = False,
        skip_simulation_step: bool = False,
        learner_configs: Sequence[LearnerConfig | None] | None = None,
        fail_fast: bool = False,
    ) -> list[LearnerConfig | None]:
        """Check the learner count, configurations and tasks; return one config per learner."""
        if not isinstance(parallel_learners, int) or isinstance(parallel_learners, bool) or parallel_learners < 2:
            raise ValueError(
                f"ParallelActiveLearner needs parallel_learners >= 2, got {parallel_learners!r}; "
                f"for a single learner use SequentialActiveLearner"
            )
        configs = _configs_per_learner(parallel_learners, learner_configs)
        check_required_tasks(self, self.required_tasks, skip_simulation_step=skip_simulation_step)
        self.check_max_iter(max_iter)
        return configs

    def start(  # type: ignore[override]
        self,
        parallel_learners: int = 2,
        max_iter: int = 0,
        skip_pre_loop: bool = False,
        skip_simulation_step: bool = False,
        learner_configs: Sequence[LearnerConfig | None] | None = None,
        fail_fast: bool = False,
        resume: str | os.PathLike[str] | None = None,
    ) -> LearnerRun:
        """Run the learners: ``async for state in acl.start(...)`` or ``await acl.start(...)``.

        Everything is validated here, before any task runs. ``learner_configs`` has one
        entry per learner (a ``LearnerConfig`` or ``None`` for the base task defaults).
        ``resume=RUN_DIR`` continues an interrupted campaign: each learner resumes from its
        own journal (``RUN_DIR/learner-<i>``) where it was; none redoes a finished iteration.
        """
        configs = self.validate(
            parallel_learners, max_iter, skip_pre_loop, skip_simulation_step, learner_configs, fail_fast
        )
        if resume is None:
            resume = overrides.resume_for(self)  # `rose run --resume RUN`
        if resume is not None:
            resume_dir = os.fspath(resume)
            if not os.path.isdir(resume_dir):
                raise FileNotFoundError(f"cannot resume: {resume_dir} is not a campaign directory (see `rose runs`)")
        logger.info("Starting parallel active learning with %d learners", parallel_learners)

        def campaign() -> AsyncIterator[IterationState]:
            self._begin_campaign()
            if resume is not None:
                self._run_dir = resume_dir
            self.learners = [self._create_sequential_learner(i, configs[i]) for i in range(parallel_learners)]
            self.metric_values_per_iteration = {
                f"learner-{i}": sub.metric_values_per_iteration for i, sub in enumerate(self.learners)
            }
            runs = [
                (
                    i,
                    sub.start(
                        max_iter=max_iter,
                        skip_pre_loop=skip_pre_loop,
                        skip_simulation_step=skip_simulation_step,
                        initial_config=configs[i],
                        resume=_sub_resume(sub) if resume is not None else None,
                    ).__aiter__(),
                )
                for i, sub in enumerate(self.learners)
            ]
            return merged_campaign(
                self,
                runs,
                fail_fast=fail_fast,
                label="learner",
                max_iter=max_iter,
                on_end=self._finish,
                parallel_count=parallel_learners,
                learner_configs=[c.to_dict() if c is not None else None for c in configs],
            )

        return LearnerRun(campaign, parallel=True)

    def _create_sequential_learner(self, learner_id: int, config: LearnerConfig | None) -> SequentialActiveLearner:
        """One sub-learner: same engine and tasks, its own id and directory."""
        directory = learner_dir(self, "learner", learner_id)
        sub = SequentialActiveLearner(self.asyncflow, run_dir=directory, name=self.name)
        adopt_tasks(sub, self, learner_id=learner_id, directory=directory)
        return sub

    def _finish(self) -> None:
        self._stop_reason = combined_stop_reason(sub._stop_reason for sub in self.learners)

    def stop(self) -> None:
        """Ask every learner to stop after its current step (reported as ``stopped``)."""
        super().stop()
        for sub in self.learners:
            sub.stop()

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


def _sub_resume(sub: Learner) -> str | None:
    """A sub-learner's own directory when it has a journal to resume from."""
    return sub.run_dir if os.path.exists(os.path.join(sub.run_dir, JOURNAL_NAME)) else None


def _configs_per_learner(count: int, learner_configs: Any) -> list[LearnerConfig | None]:
    if learner_configs is None:
        return [None] * count
    if isinstance(learner_configs, LearnerConfig) or not isinstance(learner_configs, (list, tuple)):
        raise TypeError(
            f"learner_configs must be a list with one LearnerConfig (or None) per learner, "
            f"got {learner_configs!r}"
        )
    if len(learner_configs) != count:
        raise ValueError(
            f"learner_configs has {len(learner_configs)} entries but parallel_learners={count}: "
            f"give exactly one LearnerConfig (or None for the base task defaults) per learner"
        )
    return [check_config(config, f"learner_configs[{i}]") for i, config in enumerate(learner_configs)]
