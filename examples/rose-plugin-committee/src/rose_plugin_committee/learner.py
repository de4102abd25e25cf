"""Query by committee: label the candidates on which a committee of models disagrees most."""

from __future__ import annotations

import asyncio
import statistics
from typing import Any

from attrs import field, frozen
from rose_plugin_al.kind import ActiveLearnTasks

from rose import Outcome, Step
from rose.learner import Learner
from rose.options import StartOptions, whole_number


@frozen(kw_only=True)
class CommitteeOptions(StartOptions):
    """``start()`` options: ``committee_size`` members (at least two), ``query_size`` points per iteration."""

    committee_size: int = field(default=3, validator=whole_number(minimum=2))
    query_size: int = field(default=1, validator=whole_number(minimum=1))


class QueryByCommittee(ActiveLearnTasks, Learner):
    """An active learner (the ``prediction`` task kind and ``ActiveLearnerConfig`` come from the AL plugin).

    Each iteration: label the selected points (simulation), train every committee member
    (training, keyword ``member``), let each member predict the candidate pool (prediction,
    keywords ``member`` and the trained model), then select the ``query_size`` candidates
    whose predictions vary most across members, and check the criterion.

    The simulation receives the newly selected candidate indices (none at first) and returns
    ``{"labels": [[x, y], ...]}`` for the points it labelled; the policy keeps every label so
    far in the carry, so a resumed campaign trains on all of them. The prediction task returns
    one number per candidate, in the same order for every member. A candidate is selected at
    most once.
    """

    required_tasks = ("simulation", "training", "prediction")

    options_class = CommitteeOptions
    start_positional = ("max_iter", "committee_size", "query_size", "initial_config", "resume")

    async def prepare(self, step: Step) -> dict[str, Any]:
        """Label the last selection, then train every member on all labels so far."""
        carry = step.inputs or {"new": [], "asked": [], "labels": []}
        found = await step.run("simulation", carry["new"], record_state=False)
        labels = sorted(carry["labels"] + [list(point) for point in found["labels"]])
        self.register_state("labeled_count", len(labels))
        self.register_state("labels", labels)
        members = range(step.options["committee_size"])
        models = await asyncio.gather(*(step.run("training", {"labels": labels}, member=m) for m in members))
        return {"models": list(models), "asked": carry["asked"], "labels": labels}

    async def evaluate(self, step: Step) -> Outcome:
        """Disagreement of the committee on the pool picks the next points; then the criterion."""
        inputs = step.inputs or {"models": [], "asked": [], "labels": []}
        votes = await asyncio.gather(*(
            step.run("prediction", model, member=m) for m, model in enumerate(inputs["models"])
        ))
        spread = [statistics.pvariance(column) for column in zip(*votes)] if votes else []
        ranked = sorted((i for i in range(len(spread)) if i not in inputs["asked"]), key=lambda i: -spread[i])
        selected = ranked[: step.options["query_size"]]
        self.register_state("disagreement", max((spread[i] for i in selected), default=0.0))
        met, value = await step.criterion(selected)
        carry = {"new": selected, "asked": inputs["asked"] + selected, "labels": inputs["labels"]}
        return Outcome(metric_value=value, should_stop=met, carry=carry)
