"""An Optuna sampler as the query policy: minimise a function over a pool of candidate designs.

    python examples/policies/optuna_pool.py [--sampler TPESampler] [--max-iter 15] [--batch 4]

Each iteration asks an Optuna study for a batch. Optuna's TPESampler uses a constant liar by
default: the trials of the batch stay RUNNING until their values are told, so later picks of
the batch avoid the earlier ones. The labels live in labels.json in the campaign directory
and each selection request carries all of them, so the policy rebuilds its study from the
request and a campaign killed and resumed (``rose run --resume``) selects what it would have
selected uninterrupted. The campaign stops when it finds a design whose Branin value is below
1.0 (the minimum is 0.398; random sampling of the 961 designs rarely gets there within 60
evaluations). The last study is written to optuna.db in the campaign directory: look at it
with optuna-dashboard or optuna.load_study(...).
"""

import argparse
import asyncio
import json
import os
from typing import Any

import numpy as np
import optuna

import rose
from rose.al import SequentialActiveLearner
from rose.metrics import LESS_THAN_OR_EQUAL_TO_THRESHOLD
from rose.policies import as_task

GRID = np.array([[a, b] for a in np.linspace(-5.0, 10.0, 31) for b in np.linspace(0.0, 15.0, 31)])
TARGET = 1.0


def branin(x: np.ndarray) -> np.ndarray:
    a, b = x[:, 0], x[:, 1]
    return (b - 5.1 / (4 * np.pi**2) * a**2 + 5 / np.pi * a - 6) ** 2 + 10 * (1 - 1 / (8 * np.pi)) * np.cos(a) + 10


def labels_of(learner: Any) -> dict[tuple[float, float], float]:
    """Every label so far, from the campaign directory (a resume gets it back; a closure would not)."""
    path = os.path.join(learner.run_dir, "labels.json")
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as handle:
        return {(a, b): value for a, b, value in json.load(handle)}


def save_labels(learner: Any, labels: dict[tuple[float, float], float]) -> None:
    path = os.path.join(learner.run_dir, "labels.json")
    with open(path + ".tmp", "w", encoding="utf-8") as handle:  # a kill never leaves half a file
        json.dump([[a, b, value] for (a, b), value in labels.items()], handle)
    os.replace(path + ".tmp", path)


async def main(sampler: str, max_iter: int, batch: int) -> None:
    async with rose.engine("local") as engine:
        learner = SequentialActiveLearner(engine)
        policy = rose.policy("optuna", sampler=sampler, seed=0, names=["a", "b"], bounds=[(-5.0, 10.0), (0.0, 15.0)])

        @learner.simulation_task(as_executable=False)
        async def simulation(*upstream: Any) -> dict[str, Any]:
            if upstream:
                new = np.array(upstream[-1]["selected_points"])
            else:  # a small random initial design
                new = GRID[np.random.default_rng(0).choice(len(GRID), size=6, replace=False)]
            labels = labels_of(learner)
            labels.update(zip(map(tuple, new.tolist()), branin(new).tolist()))  # labelling again changes nothing
            save_labels(learner, labels)
            return {"evaluations": len(labels), "best": min(labels.values())}

        @learner.training_task(as_executable=False)
        async def training(*upstream: Any) -> dict[str, Any]:
            # nothing to fit: the study is the model; hand over the unlabelled designs and every label so far
            labels = labels_of(learner)
            free = [p for p in GRID.tolist() if tuple(p) not in labels]
            return {"candidates": free, "observed_points": [list(p) for p in labels],
                    "observed_values": list(labels.values())}

        learner.active_learn_task(as_executable=False)(as_task(policy, k=batch))

        @learner.as_stop_criterion(metric_name="best_value", threshold=TARGET,
                                   operator=LESS_THAN_OR_EQUAL_TO_THRESHOLD, as_executable=False)
        async def best_value(*upstream: Any) -> float:
            return min(labels_of(learner).values())

        async for state in learner.start(max_iter=max_iter):
            print(f"iteration {state.iteration}: best {state.metric_value:.4f} after {len(labels_of(learner))} evaluations")
        if policy.study is not None:  # the study of the last selection, for optuna-dashboard
            database = os.path.join(learner.run_dir, "optuna.db")
            if os.path.exists(database):
                os.remove(database)
            saved = optuna.create_study(storage=f"sqlite:///{database}", study_name="branin")
            saved.add_trials(policy.study.get_trials())
            print(f"study: sqlite:///{database} ({len(saved.trials)} trials, {len(policy.pending_trials)} still running)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sampler", default="TPESampler")
    parser.add_argument("--max-iter", type=int, default=15)
    parser.add_argument("--batch", type=int, default=4)
    args = parser.parse_args()
    asyncio.run(main(args.sampler, args.max_iter, args.batch))
