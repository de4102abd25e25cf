"""RADICAL-Pilot through a real Slurm: the pilot is a batch job of the local one-node cluster.

``resource="local.slurm"`` (shipped with the plugin). What a user relies on: the pilot's
batch job id and queue time are visible; ``scancel`` of that job mid-campaign fails the
tasks in flight with an error naming the pilot and the job, the campaign stops with a
resumable journal and nothing is left running; the resume then finishes the campaign.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("radical.pilot", reason="RADICAL-Pilot is not installed")

from rose.runs import load_run  # noqa: E402
from rose.testing.slurm import LocalSlurm  # noqa: E402

pytestmark = pytest.mark.slurm

HERE = Path(__file__).resolve().parent
ROSE = str(Path(sys.executable).parent / "rose")
REPO = HERE.parents[2]


def _campaign(runs: Path) -> Path | None:
    found = [p for p in runs.iterdir() if not p.name.startswith(".") and (p / "journal.jsonl").exists()] \
        if runs.exists() else []
    return found[0] if found else None


def _iterations(campaign: Path | None) -> int:
    if campaign is None:
        return 0
    lines = (campaign / "journal.jsonl").read_text().splitlines()
    return sum(1 for line in lines if '"type": "iteration"' in line or '"type":"iteration"' in line)


def _pilot_job(runs: Path) -> dict[str, object]:
    [path] = list((runs / ".batch-jobs").glob("radical-*.json"))
    return dict(json.loads(path.read_text()))


def _processes_under(folder: Path) -> list[str]:
    """Live processes whose working directory is inside ``folder`` (the pilot agent runs in its sandbox)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
            state = (entry / "stat").read_text().split(") ", 1)[1][:1]
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cwd.startswith(str(folder)) and state != "Z":
            found.append(f"{entry.name}: {command[:120]}")
    return found


def test_scancel_of_the_pilot_stops_the_campaign_cleanly_and_resume_finishes_it(
        local_slurm: LocalSlurm, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    env = {**local_slurm.env, "ROSE_RUNS_DIR": str(runs)}
    script = str(HERE / "slurm_campaign.py")
    process = subprocess.Popen([ROSE, "run", script], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        end = time.monotonic() + 240
        while _iterations(_campaign(runs)) < 1:
            assert process.poll() is None, process.communicate()[1][-3000:]
            assert time.monotonic() < end, "no iteration finished within 240 s on the Slurm pilot"
            time.sleep(0.5)
        job = _pilot_job(runs)
        assert job["job_id"], f"the pilot's Slurm job id is not recorded: {job}"
        assert isinstance(job["queued_seconds"], float)
        subprocess.run(["scancel", str(job["job_id"])], env=env, check=True)
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode != 0
    assert f"pilot.0000 (batch job {job['job_id']})" in stderr and "was cancelled" in stderr, stderr[-3000:]
    assert f"queued on local.slurm" in stderr or "allocation started" in stderr, stderr[-3000:]
    campaign = _campaign(runs)
    assert campaign is not None
    run = load_run(str(campaign))
    assert run.status == "error", run.status
    done = _iterations(campaign)
    assert 1 <= done < 4
    assert local_slurm.job_state(str(job["job_id"])) in ("", "CANCELLED", "COMPLETING")
    time.sleep(2)
    assert not _processes_under(runs), _processes_under(runs)

    resumed = subprocess.run([ROSE, "run", script, "--resume", campaign.name], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert load_run(str(campaign)).status == "max_iter_reached"
    assert _iterations(campaign) == 4
    assert not _processes_under(runs), _processes_under(runs)
