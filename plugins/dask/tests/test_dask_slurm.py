"""Dask workers as Slurm batch jobs (``--backend dask --backend-option cluster=slurm``) on the local Slurm.

A campaign whose criterion task only succeeds inside a Slurm job runs to its end; the
worker job is visible (its id in the lifecycle lines and in ``rose show``) and is cancelled
when the campaign ends.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("dask_jobqueue", reason="dask-jobqueue is not installed")

from rose.testing.slurm import LocalSlurm

pytestmark = pytest.mark.slurm

ROSE = str(Path(sys.executable).parent / "rose")

SCRIPT = '''
import asyncio

import rose
from rose.al import SequentialActiveLearner
from rose.metrics import MEAN_SQUARED_ERROR_MSE


async def main():
    engine = await rose.engine("local")
    learner = SequentialActiveLearner(engine)

    @learner.simulation_task
    async def simulation(*args, **kwargs):
        return "echo simulated"

    @learner.training_task
    async def training(*args, **kwargs):
        return "echo trained"

    @learner.active_learn_task
    async def active_learn(*args, **kwargs):
        return "echo selected"

    @learner.as_stop_criterion(metric_name=MEAN_SQUARED_ERROR_MSE, threshold=0.0)
    async def check_mse(*args, **kwargs):
        # fails unless it runs inside a Slurm job
        return ["sh", "-c", 'test -n "$SLURM_JOB_ID" && echo 0.5']

    try:
        async for state in learner.start(max_iter=2):
            print("iteration", state.iteration, state.metric_value, flush=True)
    finally:
        await engine.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
'''


def test_a_campaign_runs_on_dask_workers_that_are_slurm_jobs(local_slurm: LocalSlurm, tmp_path: Path) -> None:
    script = tmp_path / "wf.py"
    script.write_text(textwrap.dedent(SCRIPT))
    runs = tmp_path / "runs"
    env = {**local_slurm.env, "ROSE_RUNS_DIR": str(runs)}
    done = subprocess.run([ROSE, "run", str(script), "--backend", "dask", "--backend-option", "cluster=slurm",
                           "--backend-option", "jobs=1", "--backend-option", "walltime=00:05:00"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-4000:]
    assert "iteration 1 0.5" in done.stdout, done.stdout
    assert "worker job(s) submitted" in done.stderr and "first worker (batch job(s) " in done.stderr, done.stderr
    [record] = [json.loads(p.read_text()) for p in (runs / ".batch-jobs").glob("dask-*.json")]
    assert record["job_id"] and record["ended"] is not None
    assert local_slurm.job_state(str(record["job_id"])) in ("", "CANCELLED", "COMPLETING", "COMPLETED")
    [campaign] = [p.name for p in runs.iterdir() if not p.name.startswith(".")]
    shown = subprocess.run([ROSE, "show", campaign, "--no-plot"], cwd=tmp_path, env=env, capture_output=True,
                           text=True)
    assert f"batch job {record['job_id']} on slurm" in shown.stdout, shown.stdout


def test_an_unknown_cluster_option_names_the_valid_ones(tmp_path: Path) -> None:
    import asyncio

    from rose_plugin_dask.backend import create_backend

    with pytest.raises(TypeError, match="unknown option.*'walltme'.*walltime"):
        asyncio.run(create_backend(cluster="slurm", walltme="00:10:00"))
    with pytest.raises(ValueError, match="cluster='pbs' is not known; use one of slurm"):
        asyncio.run(create_backend(cluster="pbs"))
