"""The basic active-learning example on an HPC machine with RADICAL-Pilot (docs/running-on-hpc.md).

    # on the login node of a Slurm machine, inside the Python environment that has ROSE:
    python examples/active_learn/basic/run_hpc.py --resource tacc.frontera --project ABC123 \\
        --queue normal --walltime 30 --cores 56

One pilot job (``--walltime`` minutes, ``--cores`` cores, ``--gpus`` GPUs) is submitted to
the batch queue; once it starts, every task of the campaign runs inside it. Try it here
first with ``--resource local.localhost --cores 2``. The tasks are the scripts next to
this file; the training asks for ``--train-cores`` cores, and is a Python function
(run in the pilot's Python, using the sibling module ``problem``).
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
import problem  # noqa: E402 - the compute nodes import it from this directory too


async def main(args: argparse.Namespace) -> None:
    pilot = {"resource": args.resource, "runtime": args.walltime, "cores": args.cores, "gpus": args.gpus}
    if args.project:
        pilot["project"] = args.project
    if args.queue:
        pilot["queue"] = args.queue
    async with rose.engine("radical", **pilot) as engine:
        learner = SequentialActiveLearner(engine, name="basic-on-hpc")
        workdir = learner.run_dir  # where every task of this learner runs and keeps its files
        python = sys.executable  # the same environment, at the same path, on the compute nodes

        @learner.simulation_task(resources={"cores": 1})
        async def simulation(*upstream: Any) -> list[str]:
            return [python, f"{HERE}/sim.py", "--n_initial", "6"]

        @learner.training_task(as_executable=False, resources={"cores": args.train_cores})
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

        async for state in learner.start(max_iter=args.max_iter):
            print(f"iteration {state.iteration}: MSE {state.metric_value:.2e}", flush=True)
        print(f"files in {workdir}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resource", default="local.localhost", help="RADICAL-Pilot resource label")
    parser.add_argument("--project", help="the allocation to charge (Slurm account)")
    parser.add_argument("--queue", help="the batch queue / partition")
    parser.add_argument("--walltime", type=int, default=30, help="pilot wall time in minutes (30)")
    parser.add_argument("--cores", type=int, default=2, help="cores of the pilot (2)")
    parser.add_argument("--gpus", type=int, default=0, help="GPUs of the pilot (0)")
    parser.add_argument("--train-cores", type=int, default=1, help="cores for each training task (1)")
    parser.add_argument("--max-iter", type=int, default=10)
    asyncio.run(main(parser.parse_args()))
