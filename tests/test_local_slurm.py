"""The local one-node Slurm the `slurm` tests run on (rose.testing.slurm): real daemons, real jobs."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from rose.testing.slurm import LocalSlurm, SlurmUnavailable, install

pytestmark = pytest.mark.slurm


def _wait_gone(cluster: LocalSlurm, job_id: str, timeout: float = 30) -> None:
    end = time.monotonic() + timeout
    while cluster.job_state(job_id) and time.monotonic() < end:
        time.sleep(0.3)


def test_a_batch_job_runs_on_the_local_cluster(local_slurm: LocalSlurm, tmp_path: Path) -> None:
    out = tmp_path / "job.out"
    job_id = local_slurm.submit("--time=1", f"--output={out}", f"--chdir={tmp_path}",
                                "--wrap", "echo job=$SLURM_JOB_ID; squeue -h -j $SLURM_JOB_ID -o %e")
    _wait_gone(local_slurm, job_id)
    lines = out.read_text().split()
    assert lines[0] == f"job={job_id}"
    assert lines[1][:4].isdigit(), f"the job could not read its own end time: {lines}"


def test_stop_leaves_no_daemon_and_no_job_step(tmp_path: Path) -> None:
    try:
        install()
        cluster = LocalSlurm(tmp_path / "cluster").start()
    except SlurmUnavailable as exc:
        pytest.skip(f"SKIPPED LOUDLY: no local Slurm on this machine: {exc}")
    try:
        job_id = cluster.submit("--time=5", f"--output={tmp_path / 'sleep.out'}", "--wrap", "sleep 300")
        end = time.monotonic() + 30
        while cluster.job_state(job_id) != "RUNNING" and time.monotonic() < end:
            time.sleep(0.3)
        processes = cluster.processes()
        assert len(processes) >= 4, f"expected munged, slurmctld, slurmd and a job step, got {processes}"
    finally:
        cluster.stop()
    alive = [pid for pid in processes if os.path.exists(f"/proc/{pid}") and "Z" not in _state(pid)]
    assert not alive, f"left behind after stop(): {alive}"
    sleeping = subprocess.run(["pgrep", "-f", "^sleep 300$"], capture_output=True, text=True, check=False)
    assert not sleeping.stdout.strip(), "the job's own process outlived the cluster"
    assert not cluster.running()


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][:1]
    except OSError:
        return "Z"
