"""The campaign of ``benchmarks/allocations.py``: 12 iterations of 15-20 s, the same results on every run.

Sequential active learning on function tasks that sleep: the simulation of the points the last
selection chose (8-11 s, the length drawn from a generator seeded by the iteration), a training
(5 s), a selection (1 s, 4 new points drawn from a generator seeded by the iteration and the
labelled count) and the criterion (0.5 s, a metric computed from the labels). Nothing depends on
the wall clock, so an uninterrupted run and a chain of allocations must journal the same
selections and metrics.
"""

import asyncio
import os
import random
import sys

import rose
from rose.al import SequentialActiveLearner
from rose.metrics import MEAN_SQUARED_ERROR_MSE

SCALE = float(os.environ.get("ROSE_BENCH_SCALE", "1"))  # 0.05 for a quick try
ITERATIONS = int(os.environ.get("ROSE_BENCH_ITERATIONS", "12"))


def labels_of(points):
    return [round((p * 37 % 101) / 101, 6) for p in points]


async def main() -> None:
    async with rose.engine("local") as engine:
        learner = SequentialActiveLearner(engine)

        @learner.simulation_task(as_executable=False)
        async def simulate(*upstream, **kwargs):
            selected = upstream[0] if upstream else [1, 2, 3, 4]
            await asyncio.sleep(SCALE * random.Random(sum(selected)).uniform(8.0, 11.0))
            return {"points": list(selected), "labels": labels_of(selected)}

        @learner.training_task(as_executable=False)
        async def train(simulated, **kwargs):
            await asyncio.sleep(SCALE * 5.0)
            return {"labelled": len(simulated["points"]), "mean_label": sum(simulated["labels"]) / 4}

        @learner.active_learn_task(as_executable=False)
        async def select(simulated, model, **kwargs):
            await asyncio.sleep(SCALE * 1.0)
            rng = random.Random(int(model["mean_label"] * 1e6))
            return sorted(rng.sample(range(1000), 4))

        @learner.as_stop_criterion(metric_name=MEAN_SQUARED_ERROR_MSE, threshold=-1.0, as_executable=False)
        async def check(*args, **kwargs):
            await asyncio.sleep(SCALE * 0.5)
            return 0.5

        async for state in learner.start(max_iter=ITERATIONS):
            print("iteration", state.iteration, state.metric_value, flush=True)


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
