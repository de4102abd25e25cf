"""Basic active learning: one SequentialActiveLearner, executable tasks, an MSE stop criterion.

    python examples/active_learn/basic/run_me.py [--max-iter 15]

The tasks are the scripts next to this file; they run in the campaign directory
(runs/<timestamp>-sequentialactivelearner), where they keep their data.
"""

import argparse
import asyncio
import os
import sys

import rose
from rose import LearnerConfig, TaskConfig
from rose.al import SequentialActiveLearner
from rose.metrics import MEAN_SQUARED_ERROR_MSE

HERE = os.path.dirname(os.path.abspath(__file__))


async def main(max_iter: int) -> None:
    engine = await rose.engine("local")
    learner = SequentialActiveLearner(engine)
    code = f"{sys.executable} {HERE}"

    @learner.simulation_task
    async def simulation(*args, **kwargs):
        return f"{code}/sim.py --n_initial {kwargs.get('--n_initial', 6)}"

    @learner.training_task
    async def training(*args, **kwargs):
        return f"{code}/train.py --ridge {kwargs.get('--ridge', 1e-3)}"

    @learner.active_learn_task
    async def active_learn(*args, **kwargs):
        return f"{code}/active.py --batch {kwargs.get('--batch', 3)}"

    @learner.as_stop_criterion(metric_name=MEAN_SQUARED_ERROR_MSE, threshold=1e-2)
    async def check_mse(*args, **kwargs):
        return f"{code}/check_mse.py"

    # smaller batches once the surrogate is decent
    config = LearnerConfig(active_learn={0: TaskConfig(kwargs={"--batch": 4}), -1: TaskConfig(kwargs={"--batch": 2})})
    async for state in learner.start(max_iter=max_iter, initial_config=config):
        print(f"iteration {state.iteration}: MSE {state.metric_value:.2e}")
    final = learner.get_current_state()
    reason = "criterion met" if final.should_stop else "max_iter reached"
    print(f"done ({reason}); files in {learner.run_dir}")
    await engine.shutdown()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-iter", type=int, default=15)
    asyncio.run(main(parser.parse_args().max_iter))
