"""``SequentialActiveLearner``: one active-learning loop."""

from __future__ import annotations

from typing import Any

from attrs import frozen

from rose.learner import Learner, Outcome, Step
from rose.legacy import OldRunNames
from rose.options import StartOptions
from rose_plugin_al.kind import ActiveLearnTasks

__all__ = ["SequentialActiveLearner", "SequentialOptions", "require_simulation"]


def require_simulation(learner: Learner, skip_simulation_step: bool) -> None:
    """A simulation task must be registered unless ``skip_simulation_step`` (a pool of simulations)."""
    if not skip_simulation_step and not learner.has_task("simulation"):
        raise ValueError(
            f"{type(learner).__name__} needs a simulation task (@learner.simulation_task) unless "
            f"start(skip_simulation_step=True) is used with a pool of existing simulations"
        )


@frozen(kw_only=True)
class SequentialOptions(StartOptions):
    """``start()`` options of :class:`SequentialActiveLearner`: ``skip_simulation_step`` trains on
    an existing pool of simulations instead of running the simulation task."""

    skip_simulation_step: bool = False


class SequentialActiveLearner(ActiveLearnTasks, Learner, OldRunNames):
    """simulation -> training -> active_learn -> criterion, repeated.

    Each iteration ``i`` runs the simulation and training tasks (config ``i``; skipped for
    iteration 0 with ``skip_pre_loop=True``), then the active-learning task on their
    results, then the stop criterion. The simulation of iteration ``i + 1`` receives the
    active-learning result of iteration ``i``. Function tasks receive upstream results as
    trailing positional arguments.
    """

    required_tasks = ("training", "active_learn")

    options_class = SequentialOptions
    start_positional = ("max_iter", "skip_pre_loop", "skip_simulation_step", "initial_config", "resume")

    def validate(self, max_iter: int = 0, **options: Any) -> None:
        """Check tasks (a simulation task unless ``skip_simulation_step``) and max_iter/criterion."""
        self.check_tasks(self.required_tasks)
        require_simulation(self, bool(options.get("skip_simulation_step")))
        super().validate(max_iter)

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
