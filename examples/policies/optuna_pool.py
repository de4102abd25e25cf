"""An Optuna sampler as the query policy: minimise a function over a pool of candidate designs.

    python examples/policies/optuna_pool.py [--sampler TPESampler] [--max-iter 15] [--batch 4]

Each iteration asks the study (kept in optuna.db in the campaign directory) for a batch.
Optuna's TPESampler uses a constant liar by default: the trials of the batch stay RUNNING
until their values are told, so later picks of the batch avoid the earlier ones. The
campaign stops when it finds a design whose Branin value is below 1.0 (the minimum is
0.398; random sampling of the 961 designs rarely gets there within 60 evaluations).
Look at the study afterwards with optuna-dashboard or optuna.load_study(...).
"""

import argparse
import asyncio
import os
from typing import Any

import numpy as np

import rose
from rose.al import SequentialActiveLearner
from rose.metrics import LESS_THAN_OR_EQUAL_TO_THRESHOLD
from rose.policies import as_task

GRID = np.array([[a, b] for a in np.linspace(-5.0, 10.0, 31) for b in np.linspace(0.0, 15.0, 31)])
TARGET = 1.0


def branin(x: np.ndarray) -> np.ndarray:
    a, b = x[:, 0], x[:, 1]
    return (b - 5.1 / (4 * np.pi**2) * a**2 + 5 / np.pi * a - 6) ** 2 + 10 * (1 - 1 / (8 * np.pi)) * np.cos(a) + 10


async def main(sampler: str, max_iter: int, batch: int) -> None:
    async with rose.engine("local") as engine:
        learner = SequentialActiveLearner(engine)
        os.makedirs(learner.run_dir, exist_ok=True)
        storage = f"sqlite:///{os.path.join(learner.run_dir, 'optuna.db')}"
        policy = rose.policy("optuna", sampler=sampler, storage=storage, study_name="branin", seed=0,
                             names=["a", "b"], bounds=[(-5.0, 10.0), (0.0, 15.0)])
        labels: dict[tuple[float, float], float] = {}
        arrived: list[list[float]] = []

        @learner.simulation_task(as_executable=False)
        async def simulation(*upstream: Any) -> dict[str, Any]:
            if upstream:
                new = np.array(upstream[-1]["selected_points"])
            else:  # a small random initial design
                new = GRID[np.random.default_rng(0).choice(len(GRID), size=6, replace=False)]
            arrived[:] = new.tolist()
            labels.update(zip(map(tuple, arrived), branin(new).tolist()))
            return {"evaluations": len(labels), "best": min(labels.values())}

        @learner.training_task(as_executable=False)
        async def training(*upstream: Any) -> dict[str, Any]:
            # nothing to fit: the study is the model; hand over the unlabelled designs and the new labels
            free = [p for p in GRID.tolist() if tuple(p) not in labels]
            return {"candidates": free, "observed_points": list(arrived),
                    "observed_values": [labels[tuple(p)] for p in arrived]}

        learner.active_learn_task(as_executable=False)(as_task(policy, k=batch))

        @learner.as_stop_criterion(metric_name="best_value", threshold=TARGET,
                                   operator=LESS_THAN_OR_EQUAL_TO_THRESHOLD, as_executable=False)
        async def best_value(*upstream: Any) -> float:
            return min(labels.values())

        async for state in learner.start(max_iter=max_iter):
            print(f"iteration {state.iteration}: best {state.metric_value:.4f} after {len(labels)} evaluations")
        print(f"study: {storage} ({len(policy.study.trials)} trials, "
              f"{len(policy.pending_trials)} still running)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sampler", default="TPESampler")
    parser.add_argument("--max-iter", type=int, default=15)
    parser.add_argument("--batch", type=int, default=4)
    args = parser.parse_args()
    asyncio.run(main(args.sampler, args.max_iter, args.batch))
