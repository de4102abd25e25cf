"""A second resume of a campaign that is still running is refused and harms nothing.

On a batch system a requeued job may start while the old one still runs. The second process
must be refused with the "in use by process" error before it touches anything: the running
campaign's task in flight goes on untouched and the campaign finishes with exit code 0.
One real campaign per learner kind, in a subprocess, with real command tasks; the task of
iteration 1 holds at a gate (a file) so that the second process surely meets it running.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

from rose.journal import read_journal

HERE = Path(__file__).resolve().parent
KINDS = ("sequential", "parallel", "steady", "rl", "parallel-rl", "experience", "uq")
HELD = {"sequential": "training", "parallel": "training", "steady": "training", "rl": "update",
        "parallel-rl": "update", "experience": "update", "uq": "training"}
LEARNERS = {"parallel": 2, "parallel-rl": 2}


def task_runs(log: Path) -> Counter[tuple[str, int]]:
    lines = log.read_text().splitlines() if log.exists() else []
    return Counter((kind, int(i)) for kind, i, _pid in (line.split() for line in lines if line.strip()))


def held_pids(log: Path, kind: str) -> list[int]:
    lines = log.read_text().splitlines() if log.exists() else []
    return [int(pid) for k, i, pid in (line.split() for line in lines if line.strip()) if (k, i) == (kind, "1")]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.mark.parametrize("learner", KINDS)
def test_a_second_resume_of_a_running_campaign_is_refused_and_harms_nothing(tmp_path: Path, learner: str) -> None:
    run_dir, log, gate = tmp_path / "run", tmp_path / "tasks.log", tmp_path / "gate"
    held = HELD[learner]
    argv = [sys.executable, str(HERE / "matrix_campaign.py"), "--learner", learner, "--run-dir", str(run_dir),
            "--log", str(log), "--marker", f"rose-guard-{uuid.uuid4().hex}", "--max-iter", "2", "--sleep", "0",
            "--hold", held, "--gate", str(gate)]
    env = {**os.environ, "ROSE_RUNS_DIR": str(tmp_path / "runs")}
    first = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
                             start_new_session=True)
    count = LEARNERS.get(learner, 1)
    try:
        deadline = time.monotonic() + 60
        while len(held_pids(log, held)) < count and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.02)
        pids = held_pids(log, held)
        assert len(pids) == count, f"the campaign never reached its held task: {first.poll()}"
        time.sleep(0.2)  # the journal has the task's process record by now

        second = subprocess.run([*argv, "--resume"], capture_output=True, text=True, env=env, cwd=tmp_path,
                                timeout=60)
        assert second.returncode != 0
        assert "is in use by process" in second.stderr, second.stderr[-2000:]
        assert all(alive(pid) for pid in pids), "the second process touched the running campaign's task"

        gate.write_text("go")
        out, err = first.communicate(timeout=60)
    finally:
        gate.write_text("go")
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait()
    assert first.returncode == 0, err[-3000:]
    runs = task_runs(log)
    assert runs[(held, 1)] == count, runs  # the held task ran once per learner: it was never killed and re-run
    journals = [folder for folder, _dirs, files in os.walk(run_dir) if "journal.jsonl" in files]
    stops = [r["reason"] for folder in journals for r in read_journal(folder) if r["type"] == "stop"]
    assert stops and set(stops) == {"max_iter_reached"}, stops
