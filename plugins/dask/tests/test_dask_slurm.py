"""Dask workers as Slurm batch jobs (``--backend dask --backend-option cluster=slurm``) on the local Slurm.

A campaign whose criterion task only succeeds inside a Slurm job runs to its end; the
worker job is visible (its id in the lifecycle lines and in ``rose show``) and is cancelled
when the campaign ends.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("dask_jobqueue", reason="dask-jobqueue is not installed")

from rose.testing.slurm import LocalSlurm

pytestmark = pytest.mark.slurm

ROSE = str(Path(sys.executable).parent / "rose")

REPO = Path(__file__).resolve().parents[3]
SCRIPT = REPO / "tests" / "slurm_chain_campaign.py"  # its criterion task fails outside a Slurm job


def test_a_campaign_runs_on_dask_workers_that_are_slurm_jobs(local_slurm: LocalSlurm, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    env = {**local_slurm.env, "ROSE_RUNS_DIR": str(runs)}
    done = subprocess.run([ROSE, "run", str(SCRIPT), "--backend", "dask", "--backend-option", "cluster=slurm",
                           "--backend-option", "jobs=1", "--backend-option", "walltime=00:05:00", "--", "0", "2", "2"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-4000:]
    assert "iteration 0 0.5" in done.stdout and "iteration 1 0.5" in done.stdout, done.stdout
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
