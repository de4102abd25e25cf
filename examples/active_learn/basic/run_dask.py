"""The basic active-learning example on a Dask cluster (docs/running-on-dask.md).

    dask scheduler --scheduler-file sched.json &                # on one node
    dask worker --scheduler-file sched.json --nthreads 1 &      # on each worker node
    python examples/active_learn/basic/run_dask.py --address tcp://HOST:8786

Without ``--address`` it uses ``DASK_SCHEDULER_ADDRESS``, else starts a LocalCluster on
this machine. The simulation, selection and stop criterion are the scripts next to this
file, run as commands on the workers in the learner's directory; the training is a
Python function that uses the sibling module ``problem`` on the workers.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any

import rose
from rose.al import SequentialActiveLearner
from rose.metrics import MEAN_SQUARED_ERROR_MSE

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import problem  # noqa: E402 - the workers import it from this directory too


async def main(address: str | None, max_iter: int) -> None:
    async with rose.engine("dask", address=address) as engine:
        learner = SequentialActiveLearner(engine, name="basic-on-dask")
        workdir = learner.run_dir  # where every task of this learner runs and keeps its files
        python = sys.executable  # the workers must have the same environment at the same path

        @learner.simulation_task
        async def simulation(*upstream: Any) -> list[str]:
            return [python, f"{HERE}/sim.py", "--n_initial", "6"]

        @learner.training_task(as_executable=False)
        async def training(*upstream: Any) -> dict[str, int]:
            import numpy as np

            data = problem.load(os.path.join(workdir, "labeled.npz"))
            assert data is not None, "the simulation wrote no labeled.npz"
            np.save(os.path.join(workdir, "ensemble.npy"), problem.fit_ensemble(data["x"], data["y"], 1e-3))
            return {"labeled_count": len(data["x"])}

        @learner.active_learn_task
        async def active_learn(*upstream: Any) -> list[str]:
            return [python, f"{HERE}/active.py", "--batch", "3"]

        @learner.as_stop_criterion(metric_name=MEAN_SQUARED_ERROR_MSE, threshold=1e-2)
        async def check_mse(*upstream: Any) -> list[str]:
            return [python, f"{HERE}/check_mse.py"]

        async for state in learner.start(max_iter=max_iter):
            print(f"iteration {state.iteration}: MSE {state.metric_value:.2e}, "
                  f"{state.state.get('labeled_count')} labeled")
        print(f"files in {workdir}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", help="the Dask scheduler (default: DASK_SCHEDULER_ADDRESS or a LocalCluster)")
    parser.add_argument("--max-iter", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(main(args.address, args.max_iter))
