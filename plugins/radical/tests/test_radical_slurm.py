"""RADICAL-Pilot through a real Slurm: the pilot is a batch job of the local one-node cluster.

``resource="local.slurm"`` (shipped with the plugin). What a user relies on: the pilot's
batch job id and queue time are visible; ``scancel`` of that job mid-campaign fails the
tasks in flight with an error naming the pilot and the job, the campaign stops with a
resumable journal and nothing is left running; the resume continues it, and a SIGTERM then
ends it within seconds, its pilot's job cancelled.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("radical.pilot", reason="RADICAL-Pilot is not installed")

from rose.runs import load_run
from rose.testing.slurm import LocalSlurm

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


def _pilot_jobs(runs: Path) -> list[dict[str, object]]:
    """The pilot records of ``runs``, oldest first."""
    jobs = [dict(json.loads(path.read_text())) for path in (runs / ".batch-jobs").glob("radical-*.json")]
    return sorted(jobs, key=lambda job: float(job["submitted"]))  # type: ignore[arg-type]


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


def test_a_queued_pilot_says_it_waits_and_for_how_long(local_slurm: LocalSlurm, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    """The pilot's job waits behind a job holding the node: its id, its Slurm state and the wait are said."""
    from rose_plugin_radical import batch

    monkeypatch.setattr(batch, "WAITING_EVERY", 1.0)
    monkeypatch.setattr(batch, "POLL_EVERY", 0.3)
    monkeypatch.setenv("SLURM_CONF", str(local_slurm.conf))
    monkeypatch.setenv("ROSE_RUNS_DIR", str(tmp_path / "runs"))
    sandbox = tmp_path / "pilot.0000"
    sandbox.mkdir()
    blocker = local_slurm.submit("--time=1", "--exclusive", "--output=/dev/null", "--wrap", "sleep 60")
    queued = local_slurm.submit("--time=1", f"--chdir={sandbox}", "--output=/dev/null", "--wrap", "sleep 60")
    try:
        with caplog.at_level(logging.INFO, logger="rose.lifecycle"):
            job = batch.PilotJob("pilot.0000", "local.slurm", 1, sandbox=str(sandbox))
            job.state("PMGR_ACTIVE_PENDING")
            _wait(lambda: "still queued on local.slurm after" in caplog.text, 20, caplog)
            assert f"pilot.0000 (batch job {queued}): still queued" in caplog.text
            assert "(Slurm: PENDING)" in caplog.text
            subprocess.run(["scancel", blocker], env=local_slurm.env, check=True)
            _wait(lambda: "its allocation started after" in caplog.text, 30, caplog)
            job.state("PMGR_ACTIVE")
            job.state("DONE")
    finally:
        subprocess.run(["scancel", blocker, queued], env=local_slurm.env, check=False)
    [record] = _pilot_jobs(tmp_path / "runs")
    assert record["job_id"] == queued and isinstance(record["queued_seconds"], float)
    assert [s["state"] for s in record["states"]][:2] == ["PMGR_ACTIVE_PENDING", "slurm:PENDING"]  # type: ignore[index]


def _wait(ready: object, timeout: float, caplog: pytest.LogCaptureFixture) -> None:
    end = time.monotonic() + timeout
    while not ready():  # type: ignore[operator]
        assert time.monotonic() < end, caplog.text
        time.sleep(0.2)


def _start(command: list[str], env: dict[str, str], cwd: Path, runs: Path, iterations: int) -> subprocess.Popen[str]:
    """Start ``command`` and return once the campaign has journaled ``iterations`` iterations."""
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    end = time.monotonic() + 300
    while _iterations(_campaign(runs)) < iterations:
        if process.poll() is not None or time.monotonic() > end:
            process.kill()
            raise AssertionError(f"no iteration {iterations} within 300 s: {process.communicate()[1][-3000:]}")
        time.sleep(0.5)
    return process


def _ended(process: subprocess.Popen[str], timeout: float) -> str:
    """``process``'s stderr once it ended (killed, and the test failed, if it takes over ``timeout`` s)."""
    try:
        return process.communicate(timeout=timeout)[1]
    except subprocess.TimeoutExpired:
        process.kill()
        stderr = process.communicate()[1]
        raise AssertionError(f"still running {timeout:g} s later (the measured hang):\n{stderr[-3000:]}") from None


@pytest.mark.timeout(900)  # a pilot starts in ~20 s on an idle machine, minutes on a loaded one
def test_scancel_or_sigterm_stops_the_campaign_cleanly_and_it_resumes(
        local_slurm: LocalSlurm, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    env = {**local_slurm.env, "ROSE_RUNS_DIR": str(runs)}
    # tests/slurm_chain_campaign.py: simulations of 3 s, all 4 iterations in one process
    command = [ROSE, "run", str(REPO / "tests" / "slurm_chain_campaign.py"), "--backend", "radical",
               "--backend-option", "resource=local.slurm", "--backend-option", "runtime=10"]
    process = _start([*command, "--", "3", "4", "4"], env, tmp_path, runs, 1)
    [job] = _pilot_jobs(runs)
    assert job["job_id"], f"the pilot's Slurm job id is not recorded: {job}"
    assert isinstance(job["queued_seconds"], float)
    subprocess.run(["scancel", str(job["job_id"])], env=env, check=True)
    stderr = _ended(process, 120)
    assert process.returncode != 0
    assert f"pilot.0000 (batch job {job['job_id']})" in stderr and "was cancelled" in stderr, stderr[-3000:]
    assert "queued on local.slurm" in stderr or "allocation started" in stderr, stderr[-3000:]
    campaign = _campaign(runs)
    assert campaign is not None
    assert load_run(str(campaign)).status == "error"
    done = _iterations(campaign)
    assert 1 <= done < 4
    assert local_slurm.job_state(str(job["job_id"])) in ("", "CANCELLED", "COMPLETING")
    time.sleep(2)
    assert not _processes_under(runs), _processes_under(runs)

    # the resume continues in a new pilot; SIGTERM (what Slurm sends at the end) then stops it cleanly
    resumed = _start([*command, "--resume", campaign.name, "--", "3", "4", "4"], env, tmp_path, runs, done + 1)
    resumed.send_signal(signal.SIGTERM)
    stderr = _ended(resumed, 90)
    assert resumed.returncode == 143, stderr[-3000:]
    assert "interrupted (SIGTERM); resume with" in stderr
    second = _pilot_jobs(runs)[-1]
    assert second["job_id"] != job["job_id"]
    time.sleep(2)
    assert local_slurm.job_state(str(second["job_id"])) in ("", "CANCELLED", "COMPLETING", "COMPLETED")
    assert not _processes_under(runs), _processes_under(runs)


@pytest.mark.timeout(1200)
def test_the_parallel_learners_tutorial_runs_on_a_slurm_pilot(local_slurm: LocalSlurm, tmp_path: Path) -> None:
    """The tutorial script (examples/active_learn/parallel/run_me.py) as it is, on ``local.slurm``."""
    pytest.importorskip("numpy", reason="the tutorial's task scripts need numpy")
    runs = tmp_path / "runs"
    env = {**local_slurm.env, "ROSE_RUNS_DIR": str(runs)}
    done = subprocess.run([ROSE, "run", str(REPO / "examples" / "active_learn" / "parallel" / "run_me.py"),
                           "--backend", "radical", "--backend-option", "resource=local.slurm",
                           "--backend-option", "runtime=15"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1100)
    assert done.returncode == 0, done.stderr[-4000:]
    for title in ("Approach 1: static", "Approach 2: per-iteration", "Approach 3: adaptive", "Full example"):
        assert title in done.stdout, done.stdout
    [job] = _pilot_jobs(runs)
    assert job["job_id"] and job["ended"] is not None, job
    assert f"pilot.0000 (batch job {job['job_id']})" in done.stderr, done.stderr[-3000:]
    campaigns = [p for p in runs.iterdir() if not p.name.startswith(".")]
    assert len(campaigns) == 4
    shown = subprocess.run([ROSE, "show", campaigns[0].name, "--no-plot"], cwd=tmp_path, env=env,
                           capture_output=True, text=True)
    assert f"radical pilot pilot.0000: batch job {job['job_id']} on local.slurm" in shown.stdout, shown.stdout
    assert local_slurm.job_state(str(job["job_id"])) in ("", "CANCELLED", "COMPLETING", "COMPLETED")
    assert not _processes_under(runs), _processes_under(runs)
