"""A campaign that does one iteration per allocation, then asks for its successor (exit 75) as a
deadline stop would; used by tests/test_submit_slurm.py (the first argument: seconds each simulation sleeps)."""

import asyncio
import os
import sys

import rose
from rose.al import SequentialActiveLearner
from rose.metrics import MEAN_SQUARED_ERROR_MSE

SLEEP = float(sys.argv[1]) if len(sys.argv) > 1 else 0  # seconds each simulation takes


async def main() -> int:
    engine = await rose.engine("local")
    learner = SequentialActiveLearner(engine)

    @learner.simulation_task
    async def simulation(*args, **kwargs):
        return f"sleep {SLEEP}" if SLEEP else "echo simulated"

    @learner.training_task
    async def training(*args, **kwargs):
        return "echo trained"

    @learner.active_learn_task
    async def active_learn(*args, **kwargs):
        return "echo selected"

    @learner.as_stop_criterion(metric_name=MEAN_SQUARED_ERROR_MSE, threshold=0.0)
    async def check_mse(*args, **kwargs):
        return "echo 0.5"

    last = None
    try:
        async for state in learner.start(max_iter=3):
            last = state
            print("job", os.environ.get("SLURM_JOB_ID"), "iteration", state.iteration, flush=True)
            break
    finally:
        await engine.shutdown()
    return 0 if last is None or last.iteration >= 2 else 75


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
