"""A small campaign for the Slurm tests: ``rose run slurm_chain_campaign.py [--backend ...] -- SLEEP PER_RUN MAX_ITER``.

Each simulation sleeps SLEEP seconds (default 0); the criterion task only succeeds inside a
Slurm job (it reads ``SLURM_JOB_ID``). One process does at most PER_RUN iterations (default
1) and then exits 75, what ``rose run`` returns after a stop at the allocation's deadline,
until MAX_ITER (default 3) iterations are done. Used by tests/test_submit_slurm.py and the
radical and dask plugins' Slurm tests.
"""

import asyncio
import os
import sys

import rose
from rose.al import SequentialActiveLearner
from rose.metrics import MEAN_SQUARED_ERROR_MSE

SLEEP = float(sys.argv[1]) if len(sys.argv) > 1 else 0.0
PER_RUN = int(sys.argv[2]) if len(sys.argv) > 2 else 1
MAX_ITER = int(sys.argv[3]) if len(sys.argv) > 3 else 3


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
        return ["sh", "-c", 'test -n "$SLURM_JOB_ID" && echo 0.5']  # fails outside a Slurm job

    last, done_here = None, 0
    try:
        async for state in learner.start(max_iter=MAX_ITER):
            last, done_here = state, done_here + 1
            print("job", os.environ.get("SLURM_JOB_ID"), "iteration", state.iteration, state.metric_value, flush=True)
            if done_here >= PER_RUN:
                break
    finally:
        await engine.shutdown()
    return 0 if last is None or last.iteration >= MAX_ITER - 1 else 75


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
