"""``SequentialActiveLearner``: one active-learning loop."""

from __future__ import annotations

import os
import warnings
from collections.abc import AsyncIterator, Mapping
from typing import Any

from rose.config import LearnerConfig, check_learner_config
from rose.learner import Learner
from rose.state import IterationState
from rose.streaming import LearnerRun

__all__ = ["SequentialActiveLearner"]


class SequentialActiveLearner(Learner):
    """simulation -> training -> active_learn -> criterion, repeated.

    Each iteration ``i`` runs the active-learning task (config ``i``) on the latest
    simulation and training results, then the stop criterion (config ``i``); the next
    simulation and training (config ``i + 1``) follow only when another iteration will
    run. Function tasks receive upstream results as trailing positional arguments.
    """

    required_tasks = ("training", "active_learn")

    def validate(  # type: ignore[override]
        self,
        max_iter: int = 0,
        skip_pre_loop: bool = False,
        skip_simulation_step: bool = False,
        initial_config: LearnerConfig | None = None,
        **options: Any,
    ) -> None:
        """Check tasks, max_iter/criterion and the configuration before running."""
        if not skip_simulation_step and not self.has_task("simulation"):
            raise ValueError(
                "SequentialActiveLearner needs a simulation task (@learner.simulation_task) "
                "unless start(skip_simulation_step=True) is used with a simulation pool"
            )
        check_learner_config(initial_config, "initial_config")
        super().validate(max_iter=max_iter)

    def start(  # type: ignore[override]
        self,
        max_iter: int = 0,
        skip_pre_loop: bool = False,
        skip_simulation_step: bool = False,
        initial_config: LearnerConfig | None = None,
        resume: str | os.PathLike[str] | bool | None = None,
    ) -> LearnerRun:
        """Run the loop: ``async for state in learner.start(max_iter=10)`` or ``await`` it.

        ``resume=RUN_DIR`` (or ``True`` for the newest run) continues a campaign from its
        journal after a crash or preemption: finished iterations are not run again.
        """
        self.validate(max_iter, skip_pre_loop, skip_simulation_step, initial_config)
        self.prepare_resume(resume)
        return LearnerRun(
            lambda: self.run_campaign(
                self._iterate(max_iter, skip_pre_loop, skip_simulation_step, initial_config),
                max_iter=max_iter,
                learner_configs=[initial_config.to_dict() if initial_config is not None else None],
            )
        )

    async def _iterate(  # type: ignore[override]
        self,
        max_iter: int,
        skip_pre_loop: bool,
        skip_simulation_step: bool,
        config: LearnerConfig | None,
    ) -> AsyncIterator[IterationState]:
        simulate = not skip_simulation_step
        sim_result: Any = None
        train_result: Any = None
        i = 0
        point = self.resume_point
        if point is not None and point.next_iteration > 0:
            i = point.next_iteration
            upstream = point.result(i - 1, "active_learn")
            if simulate:
                sim_result = await self._resumed_or_run("simulation", i, config, (upstream,))
                train_result = await self._resumed_or_run("training", i, config, (sim_result,))
            else:
                train_result = await self._resumed_or_run("training", i, config, (upstream,))
        elif not skip_pre_loop:
            if simulate:
                sim_result = await self.run_task("simulation", iteration=0, config=config)
                train_result = await self.run_task("training", iteration=0, config=config, deps=(sim_result,))
            else:
                train_result = await self.run_task("training", iteration=0, config=config)
        while max_iter == 0 or i < max_iter:
            if self.is_stopped:
                self._stop_reason = "stopped"
                return
            config = self.take_pending_config(config)
            self.clear_state()
            for upstream in (sim_result, train_result):
                if isinstance(upstream, Mapping):
                    self._extract_state_from_result(upstream)
            if skip_pre_loop and i == 0 and point is None:
                deps: tuple[Any, ...] = ()
            elif simulate:
                deps = (sim_result, train_result)
            else:
                deps = (train_result,)
            al_result = await self.run_task("active_learn", iteration=i, config=config, deps=deps)
            should_stop, value = await self.check_criterion(i, config)
            state = self.build_iteration_state(i, value, should_stop, config)
            yield state
            if self.ends_after(state, max_iter):
                return
            config = self.take_pending_config(config)
            if simulate:
                sim_result = await self.run_task("simulation", iteration=i + 1, config=config, deps=(al_result,))
                train_result = await self.run_task("training", iteration=i + 1, config=config, deps=(sim_result,))
            else:
                train_result = await self.run_task("training", iteration=i + 1, config=config, deps=(al_result,))
            i += 1
        self._stop_reason = "max_iter_reached"

    async def _resumed_or_run(self, key: str, iteration: int, config: LearnerConfig | None, deps: tuple[Any, ...]) -> Any:
        """A task result recorded before the interruption, or run the task now."""
        point = self.resume_point
        recorded = point.result(iteration, key) if point is not None else None
        if recorded is not None and not (isinstance(recorded, dict) and "omitted" in recorded):
            if isinstance(recorded, Mapping):
                self._extract_state_from_result(recorded)
            return recorded
        return await self.run_task(key, iteration=iteration, config=config, deps=deps)

    async def teach(
        self,
        max_iter: int = 0,
        skip_pre_loop: bool = False,
        skip_simulation_step: bool = False,
        learner_config: LearnerConfig | None = None,
    ) -> IterationState | None:
        """Deprecated: use ``await learner.start(...)``; returns the final state."""
        warnings.warn("teach() is deprecated; use `await learner.start(...)`", DeprecationWarning, stacklevel=2)
        result: IterationState | None = await self.start(max_iter, skip_pre_loop, skip_simulation_step, learner_config)
        return result
