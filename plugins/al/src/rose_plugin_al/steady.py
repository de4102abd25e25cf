"""``SteadyStateActiveLearner``: active learning without iteration barriers.

A synchronous active learner waits for the slowest simulation of every batch before it
trains and selects; with simulation times that vary, cores idle. This learner keeps
``in_flight`` simulations running at all times: as soon as ``retrain_every`` of them have
finished (and every other one that finished meanwhile), it retrains on the new labels, checks
the criterion and selects just enough new points to fill the free slots. Selection is
pending-aware: the active-learning task receives the points still being simulated
(``pending=``) so it never picks them again, and a strategy may account for them (constant
liar, kriging believer: see ``docs/policies.md``).

Tasks (function or executable, like the other learners):

* ``active_learn(model, pending=[...], count=k)`` returns ``k`` new points (a list); before
  the first training ``model`` is None: return the initial design;
* ``simulation(point, point_id=n)`` labels one point;
* ``training(results)`` gets the results of the simulations that finished since the last
  training (keep all data on disk or in the model, as the surrogate needs);
* the stop criterion (optional) receives the trained model.

One iteration is one retraining; its state holds ``in_flight``, ``labeled_new`` and
``labeled_total``. The campaign stores the points in flight after every iteration, so a resume
restarts exactly those (simulations that had finished are not run again).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from attrs import frozen

from rose.deadline import DeadlineReached
from rose.learner import Learner, Outcome, Step
from rose.options import StartOptions
from rose.steps import Plan
from rose.streaming import LearnerRun
from rose_plugin_al.kind import ActiveLearnTasks

__all__ = ["SteadyStateActiveLearner"]

logger = logging.getLogger("rose_plugin_al")


@frozen(kw_only=True)
class SteadyOptions(StartOptions):
    """``start()`` options of :class:`SteadyStateActiveLearner`: ``in_flight`` simulations at once,
    a retraining after ``retrain_every`` new labels."""

    in_flight: int = 4
    retrain_every: int = 1


class SteadyStateActiveLearner(ActiveLearnTasks, Learner):
    """Keeps ``in_flight`` simulations running; retrains as labels arrive (see the module docs)."""

    required_tasks = ("simulation", "training", "active_learn")

    def __init__(self, asyncflow: Any = None, **options: Any) -> None:
        super().__init__(asyncflow, **options)
        self._running: dict[int, asyncio.Task[Any]] = {}

    options_class = SteadyOptions
    start_positional = ("max_iter", "in_flight", "retrain_every", "initial_config", "resume")

    def validate(self, max_iter: int = 0, **options: Any) -> None:
        """``in_flight`` >= 1 simulations at once; retrain after ``retrain_every`` (1..in_flight) new labels."""
        in_flight, retrain_every = options.get("in_flight", 4), options.get("retrain_every", 1)
        for name, value in (("in_flight", in_flight), ("retrain_every", retrain_every)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"SteadyStateActiveLearner: {name} must be a whole number >= 1, got {value!r}")
        if retrain_every > in_flight:
            raise ValueError(
                f"SteadyStateActiveLearner: retrain_every={retrain_every} can never fire with in_flight={in_flight} "
                f"simulations running; use retrain_every <= in_flight"
            )
        super().validate(max_iter)

    def launch(self, plan: Plan) -> LearnerRun:
        """Run: ``async for state in learner.start(max_iter=30, in_flight=8)`` (a state per retraining)."""
        self._running = {}
        return super().launch(plan)

    def _launch(self, step: Step, pending: list[list[Any]]) -> None:
        """Start the simulation of every pending point that is not running (all of them after a resume)
        and still fits before the campaign's deadline (the others stay pending, for the next allocation)."""
        for point_id, point, submitted in pending:
            if point_id not in self._running and step.has_time_for("simulation"):
                self._running[point_id] = self.in_background(self.run_task(
                    "simulation", iteration=submitted, config=step.config, deps=(point,),
                    extra_kwargs={"point_id": point_id}, record_state=False,
                ))

    async def prepare(self, step: Step) -> dict[str, Any]:
        """Wait until ``retrain_every`` simulations have finished; collect every finished one."""
        carry = step.inputs or {"pending": [], "next_id": 0, "labeled": 0}
        pending, next_id = [list(p) for p in carry["pending"]], int(carry["next_id"])
        if not pending and not self._running:
            design = await step.run("active_learn", None, pending=[], count=step.options["in_flight"])
            pending = [[next_id + i, point, step.iteration] for i, point in enumerate(design)]
            next_id += len(pending)
        self._launch(step, pending)
        finished: list[Any] = []
        while len(finished) < step.options["retrain_every"] or not finished:
            done = [pid for pid, task in self._running.items() if task.done()]
            if not done and not self._running:  # nothing fits before the deadline any more
                raise DeadlineReached(f"no simulation fits before the deadline; {len(pending)} point(s) stay pending")
            if not done:
                await asyncio.wait(self._running.values(), return_when=asyncio.FIRST_COMPLETED)
                continue
            for point_id in sorted(done):
                finished.append(self._running.pop(point_id).result())  # a failed simulation raises here
                pending = [p for p in pending if p[0] != point_id]
        return {"finished": finished, "pending": pending, "next_id": next_id,
                "labeled": int(carry.get("labeled", 0)) + len(finished)}

    async def evaluate(self, step: Step) -> Outcome:
        """Retrain on the new labels, check the criterion, fill the free slots with new points."""
        inputs = step.inputs
        model = await step.run("training", inputs["finished"])
        met, value = await step.criterion(model)
        pending, next_id = inputs["pending"], inputs["next_id"]
        self.register_state("labeled_new", len(inputs["finished"]))
        self.register_state("labeled_total", inputs["labeled"])
        if not met:
            free = step.options["in_flight"] - len(pending)
            chosen = await step.run("active_learn", model, pending=[p[1] for p in pending], count=free)
            fresh = [[next_id + i, point, step.iteration] for i, point in enumerate(chosen)]
            next_id += len(fresh)
            pending = pending + fresh
            self._launch(step, fresh)
        self.register_state("in_flight", len(pending))
        return Outcome(metric_value=value, should_stop=met,
                       carry={"pending": pending, "next_id": next_id, "labeled": inputs["labeled"]})
