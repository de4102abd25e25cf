"""A built-in query policy as the active-learning task: no selection script to write.

    python examples/policies/built_in_policy.py [--policy batch-diverse-top-k] [--max-iter 8] [--batch 3]

The surrogate of a damped wave on [0, 4] is a committee of piecewise-linear interpolants
through bootstrap resamples of the labelled points; their disagreement is what the
uncertainty policies (max-variance, batch-diverse-top-k) use. The training task returns a
selection request (candidates, predictions, the labels that just arrived); the policy,
turned into a task by rose.policies.as_task, answers with the next batch.
"""

import argparse
import asyncio
from typing import Any

import numpy as np

import rose
from rose import LearnerConfig, TaskConfig
from rose.al import SequentialActiveLearner
from rose.metrics import MEAN_SQUARED_ERROR_MSE
from rose.policies import as_task

POOL = np.linspace(0.0, 4.0, 201)


def response(x: np.ndarray) -> np.ndarray:
    return np.exp(-0.4 * x) * np.sin(3.0 * x)


async def main(policy_name: str, max_iter: int, batch: int, **options: Any) -> None:
    async with rose.engine("local") as engine:
        learner = SequentialActiveLearner(engine)
        labels: dict[float, float] = {}
        arrived: list[float] = []

        @learner.simulation_task(as_executable=False)
        async def simulation(*upstream: Any) -> dict[str, int]:
            new = upstream[-1]["selected_points"] if upstream else [0.0, 2.0, 4.0]
            arrived[:] = [float(x) for x in new]
            labels.update(zip(arrived, response(np.array(arrived)).tolist()))
            return {"labelled": len(labels)}

        @learner.training_task(as_executable=False)
        async def training(*upstream: Any) -> dict[str, Any]:
            xs = np.array(sorted(labels))
            rng = np.random.default_rng(len(xs))
            committee = []
            for _ in range(8):
                sample = np.unique(rng.choice(xs, size=len(xs)))
                committee.append(np.interp(POOL, sample, response(sample)))
            free = ~np.isin(POOL, xs)
            return {"candidates": POOL[free], "predictions": np.array(committee)[:, free],
                    "observed_points": list(arrived), "observed_values": [labels[x] for x in arrived]}

        learner.active_learn_task(as_executable=False)(as_task(rose.policy(policy_name, **options), k=batch))

        @learner.as_stop_criterion(metric_name=MEAN_SQUARED_ERROR_MSE, threshold=1e-4, as_executable=False)
        async def check_mse(*upstream: Any) -> float:
            xs = np.array(sorted(labels))
            return float(np.mean((np.interp(POOL, xs, response(xs)) - response(POOL)) ** 2))

        config = LearnerConfig(active_learn=TaskConfig(kwargs={"seed": 1}))
        async for state in learner.start(max_iter=max_iter, initial_config=config):
            picked = ", ".join(f"{x:.2f}" for x in state.state["selected_points"])
            print(f"iteration {state.iteration}: MSE {state.metric_value:.2e} with {len(labels)} labels; next: {picked}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", default="batch-diverse-top-k")
    parser.add_argument("--max-iter", type=int, default=8)
    parser.add_argument("--batch", type=int, default=3)
    parser.add_argument("--pool-factor", type=int, default=16, help="batch-diverse-top-k: spread over the 16k most uncertain")
    args = parser.parse_args()
    options = {"pool_factor": args.pool_factor} if args.policy == "batch-diverse-top-k" else {}
    asyncio.run(main(args.policy, args.max_iter, args.batch, **options))
