"""``SequentialActiveLearner``: one active-learning loop."""

from __future__ import annotations

import os
import warnings
from typing import Any

from rose.campaign import Outcome, Step
from rose.config import LearnerConfig
from rose.learner import Learner
from rose.state import IterationState
from rose.streaming import LearnerRun

__all__ = ["SequentialActiveLearner", "require_simulation"]


def require_simulation(learner: Learner, skip_simulation_step: bool) -> None:
    """A simulation task must be registered unless ``skip_simulation_step`` (a pool of simulations)."""
    if not skip_simulation_step and not learner.has_task("simulation"):
        raise ValueError(
            f"{type(learner).__name__} needs a simulation task (@learner.simulation_task) unless "
            f"start(skip_simulation_step=True) is used with a pool of existing simulations"
        )


class SequentialActiveLearner(Learner):
    """simulation -> training -> active_learn -> criterion, repeated.

    Each iteration ``i`` runs the simulation and training tasks (config ``i``; skipped for
    iteration 0 with ``skip_pre_loop=True``), then the active-learning task on their
    results, then the stop criterion. The simulation of iteration ``i + 1`` receives the
    active-learning result of iteration ``i``. Function tasks receive upstream results as
    trailing positional arguments.
    """

    required_tasks = ("training", "active_learn")

    def validate(self, max_iter: int = 0, skip_simulation_step: bool = False, **options: Any) -> None:
        """Check tasks (a simulation task unless ``skip_simulation_step``) and max_iter/criterion."""
        self.check_tasks(self.required_tasks)
        require_simulation(self, skip_simulation_step)
        super().validate(max_iter)

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
        journal after a crash or preemption: finished tasks are not run again.
        """
        return super().start(max_iter, skip_pre_loop, initial_config, resume, skip_simulation_step=skip_simulation_step)

    async def prepare(self, step: Step) -> tuple[Any, ...]:
        """Simulation (on the last selection) then training on its result."""
        upstream = tuple(step.inputs or ())
        if step.options.get("skip_simulation_step"):
            return (await step.run("training", *upstream),)
        simulated = await step.run("simulation", *upstream)
        return simulated, await step.run("training", simulated)

    async def evaluate(self, step: Step) -> Outcome:
        """Active learning on the prepared results, then the criterion."""
        selected = await step.run("active_learn", *(step.inputs or ()))
        met, value = await step.criterion()
        return Outcome(metric_value=value, should_stop=met, carry=(selected,))

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
