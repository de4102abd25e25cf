"""``ParallelActiveLearner``: several independent active-learning loops at once."""

from __future__ import annotations

from typing import Any

from attrs import frozen

from rose.fanout import ParallelCopies, ParallelOptions
from rose.legacy import OldRunNames
from rose_plugin_al.kind import ActiveLearnTasks
from rose_plugin_al.sequential import SequentialActiveLearner, require_simulation

__all__ = ["ParallelActiveLearner", "ParallelActiveOptions"]


@frozen(kw_only=True)
class ParallelActiveOptions(ParallelOptions):
    """``start()`` options of :class:`ParallelActiveLearner`: the count, per-learner configs,
    ``fail_fast`` and every sequential learner's ``skip_simulation_step``."""

    skip_simulation_step: bool = False


class ParallelActiveLearner(ActiveLearnTasks, ParallelCopies, OldRunNames):
    """Run ``parallel_learners`` sequential active-learning loops concurrently.

    Every learner runs the tasks registered on this object, with its own
    ``LearnerConfig`` (``None`` keeps the tasks' own defaults), its own stop criterion
    check and its own working directory ``<run_dir>/learner-<i>``. ``async for state in
    acl.start(...)`` interleaves the learners' states (each tagged with ``learner_id`` = its
    index); ``await acl.start(...)`` returns the list of final states. One learner failing is
    logged with its id while the others go on (the run then raises
    :class:`rose.errors.LearnerFailedError` at the end); ``fail_fast=True`` stops all at the
    first failure. ``resume=RUN_DIR`` continues an interrupted campaign: each learner resumes
    from its own journal (``RUN_DIR/learner-<i>``) where it was.
    """

    required_tasks = ("training", "active_learn")
    child_class = SequentialActiveLearner
    options_class = ParallelActiveOptions
    start_positional = ("parallel_learners", "max_iter", "skip_pre_loop", "skip_simulation_step", "learner_configs",
                        "fail_fast", "resume")

    def validate(self, max_iter: int = 0, **options: Any) -> None:
        """Check the learner count, the tasks (a simulation unless ``skip_simulation_step``) and max_iter."""
        super().validate(max_iter, **options)
        require_simulation(self, bool(options.get("skip_simulation_step")))
