"""A small campaign on a pilot that is a Slurm batch job (``resource="local.slurm"``); used by
test_radical_slurm.py: ``rose run slurm_campaign.py`` (each simulation sleeps 3 s)."""

import asyncio

import rose
from rose.al import SequentialActiveLearner
from rose.metrics import MEAN_SQUARED_ERROR_MSE


async def main() -> None:
    engine = await rose.engine("radical", resource="local.slurm", runtime=10)
    learner = SequentialActiveLearner(engine)

    @learner.simulation_task
    async def simulation(*args, **kwargs):
        return "sleep 3"

    @learner.training_task
    async def training(*args, **kwargs):
        return "true"

    @learner.active_learn_task
    async def active_learn(*args, **kwargs):
        return "true"

    @learner.as_stop_criterion(metric_name=MEAN_SQUARED_ERROR_MSE, threshold=0.0)
    async def check_mse(*args, **kwargs):
        return "echo 0.5"

    try:
        async for state in learner.start(max_iter=4):
            print("iteration", state.iteration, state.metric_value, flush=True)
    finally:
        await engine.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
