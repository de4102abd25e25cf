"""Query by committee: label the candidates on which a committee of models disagrees most."""

from __future__ import annotations

import asyncio
import os
import statistics
from typing import Any

from rose import LearnerConfig, Outcome, Step
from rose.learner import Learner
from rose.streaming import LearnerRun


class QueryByCommittee(Learner):
    """Each iteration: label the selected points (simulation), train every committee member
    (training, keyword ``member``), let each member predict the candidate pool (prediction,
    keywords ``member`` and the trained model), then select the ``query_size`` candidates
    whose predictions vary most across members, and check the criterion.

    The prediction task returns one number per candidate, in the same order for every
    member; the simulation of the next iteration receives the newly selected candidate
    indices. A candidate is selected at most once.
    """

    required_tasks = ("simulation", "training", "prediction")

    def validate(self, max_iter: int = 0, committee_size: int = 3, query_size: int = 1, **options: Any) -> None:
        """A committee of at least two members, a query of at least one point."""
        for name, value, least in (("committee_size", committee_size, 2), ("query_size", query_size, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"QueryByCommittee: {name} must be a whole number >= {least}, got {value!r}")
        super().validate(max_iter)

    def start(  # type: ignore[override]
        self,
        max_iter: int = 0,
        committee_size: int = 3,
        query_size: int = 1,
        initial_config: LearnerConfig | None = None,
        resume: str | os.PathLike[str] | bool | None = None,
    ) -> LearnerRun:
        """Run the campaign: ``async for state in qbc.start(max_iter=10, committee_size=5)``."""
        return super().start(max_iter, initial_config=initial_config, resume=resume,
                             committee_size=committee_size, query_size=query_size)

    async def prepare(self, step: Step) -> dict[str, Any]:
        """Label the last selection, then train every member on all labels so far."""
        carry = step.inputs or {"new": [], "asked": []}
        labels = await step.run("simulation", carry["new"])
        members = range(step.options["committee_size"])
        models = await asyncio.gather(*(step.run("training", labels, member=m) for m in members))
        return {"models": list(models), "asked": carry["asked"]}

    async def evaluate(self, step: Step) -> Outcome:
        """Disagreement of the committee on the pool picks the next points; then the criterion."""
        inputs = step.inputs or {"models": [], "asked": []}
        votes = await asyncio.gather(*(
            step.run("prediction", model, member=m) for m, model in enumerate(inputs["models"])
        ))
        spread = [statistics.pvariance(column) for column in zip(*votes)] if votes else []
        ranked = sorted((i for i in range(len(spread)) if i not in inputs["asked"]), key=lambda i: -spread[i])
        selected = ranked[: step.options["query_size"]]
        self.register_state("disagreement", max((spread[i] for i in selected), default=0.0))
        met, value = await step.criterion(selected)
        return Outcome(metric_value=value, should_stop=met, carry={"new": selected, "asked": inputs["asked"] + selected})
