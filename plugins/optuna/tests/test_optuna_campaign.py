"""A campaign that selects with the Optuna policy resumes exactly: the learner contract, kill matrix case.

The campaign is the one users write from docs/policies.md: a SequentialActiveLearner whose
active-learning task is ``as_task(rose.policy("optuna", ...))``; the labels live in a file in
the campaign directory and every selection request carries all of them, so the policy (whose
study is rebuilt from each request) holds nothing a resume could lose.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

import rose
from rose.learner import Learner
from rose.policies import as_task
from rose.testing import LearnerContract

POOL = np.linspace(-2.0, 2.0, 201)
INITIAL = [-2.0, 0.0, 2.0]


def target(x: float) -> float:
    """The function the campaign minimises (its minimum, 0, is at 0.7)."""
    return (x - 0.7) ** 2


def labels_of(learner: Learner) -> dict[float, float]:
    """Every label so far, kept in the campaign directory (a resume gets it back)."""
    path = os.path.join(learner.run_dir, "labels.json")
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as handle:
        return {float(x): float(y) for x, y in json.load(handle)}


def build(engine: Any, **policy_options: Any) -> Learner:
    """A SequentialActiveLearner selecting two points per iteration with an Optuna TPE study."""
    from rose.al import SequentialActiveLearner

    learner = SequentialActiveLearner(engine)
    options = {"seed": 0, "sampler_options": {"n_startup_trials": 4}, **policy_options}
    policy = rose.policy("optuna", **options)

    @learner.simulation_task(as_executable=False)
    async def simulation(*upstream: Any) -> dict[str, Any]:
        new = [p[0] for p in upstream[-1]["selected_points"]] if upstream else INITIAL
        labels = labels_of(learner)
        labels.update({float(x): target(float(x)) for x in new})  # labelling a point again changes nothing
        path = os.path.join(learner.run_dir, "labels.json")
        with open(path + ".tmp", "w", encoding="utf-8") as handle:  # a kill never leaves half a file
            json.dump(sorted(labels.items()), handle)
        os.replace(path + ".tmp", path)
        return {"labelled": len(labels)}

    @learner.training_task(as_executable=False)
    async def training(*upstream: Any) -> dict[str, Any]:
        labels = labels_of(learner)
        free = [[float(x)] for x in POOL if float(x) not in labels]
        return {"candidates": free, "observed_points": [[x] for x in labels], "observed_values": list(labels.values())}

    learner.active_learn_task(as_executable=False)(as_task(policy, k=2))
    return learner


class TestOptunaPolicyCampaignContract(LearnerContract):
    """The learner contract (its two interruption checks included) for a campaign selecting with Optuna."""

    def make_learner(self, engine: Any) -> Learner:
        return build(engine)
