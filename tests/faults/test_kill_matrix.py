"""kill -9 of the campaign process at each phase of an iteration, for a sequential, a parallel and an
RL learner, then resume: nothing finished is lost or run again, no task process outlives its campaign.

Only the campaign process is killed (its tasks run in their own process groups): the local
backend's watchdog must end them. With ``ROSE_FAULT_TABLE=path`` each trial appends its
measured row (JSON) to that file.
"""

from __future__ import annotations

import json
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
PHASES = {  # the task whose start, at iteration 1, triggers the kill
    "sequential": {"prepare (simulation)": "simulation", "evaluate (active_learn)": "active_learn",
                   "criterion": "criterion"},
    "parallel": {"prepare (simulation)": "simulation", "evaluate (active_learn)": "active_learn"},
    "rl": {"prepare (environment)": "environment", "prepare (update)": "update", "evaluate (criterion)": "criterion"},
}
CASES = [(learner, phase) for learner, phases in PHASES.items() for phase in phases]


def running(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if marker in cmdline and "fault_task.py" in cmdline:
                found.append(int(entry.name))
    return found


def task_runs(log: Path) -> Counter[tuple[str, int]]:
    lines = log.read_text().splitlines() if log.exists() else []
    return Counter((kind, int(i)) for kind, i, _pid in (line.split() for line in lines if line.strip()))


@pytest.mark.parametrize(("learner", "phase"), CASES, ids=[f"{name}-{p.split()[0]}-{p.split()[-1]}" for name, p in CASES])
def test_kill_9_then_resume(tmp_path: Path, learner: str, phase: str) -> None:
    trigger = PHASES[learner][phase]
    run_dir, log, marker = tmp_path / "run", tmp_path / "tasks.log", f"rose-matrix-{uuid.uuid4().hex}"
    argv = [sys.executable, str(HERE / "matrix_campaign.py"), "--learner", learner, "--run-dir", str(run_dir),
            "--log", str(log), "--marker", marker, "--max-iter", "4"]
    env = {**os.environ, "ROSE_RUNS_DIR": str(tmp_path / "runs")}
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    deadline = time.monotonic() + 90
    while (trigger, 1) not in task_runs(log) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
    assert (trigger, 1) in task_runs(log), "the campaign never reached the phase to kill"
    time.sleep(0.1)  # the task is running now
    os.kill(process.pid, signal.SIGKILL)  # the campaign process only: its tasks are in their own groups
    process.wait(timeout=10)
    journals = [folder for folder, _dirs, files in os.walk(run_dir) if "journal.jsonl" in files]

    def finished() -> set[tuple[object, int]]:
        return {(r["state"].get("learner_id"), r["state"]["iteration"]) for folder in journals
                for r in read_journal(folder) if r["type"] == "iteration"}

    before, runs_before = finished(), task_runs(log)
    deadline = time.monotonic() + 10
    while running(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    orphans = len(running(marker))
    result = subprocess.run([*argv, "--resume"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=180)
    after, runs = finished(), task_runs(log)
    learners = 2 if learner == "parallel" else 1
    rerun = sum(count - learners for count in runs.values() if count > learners)  # each learner runs each task once
    row = {"learner": learner, "phase": phase, "survived": result.returncode == 0 and len(after) == 4 * learners,
           "finished_lost": len(before - after), "tasks_rerun": rerun, "orphans": orphans}
    if os.environ.get("ROSE_FAULT_TABLE"):
        with open(os.environ["ROSE_FAULT_TABLE"], "a", encoding="utf-8") as table:
            table.write(json.dumps(row) + "\n")
    assert result.returncode == 0, result.stderr[-2000:]
    assert row["survived"] and row["finished_lost"] == 0 and orphans == 0, row
    # what ran again is at most what was running when the campaign died (one task per learner)
    assert rerun <= learners, (row, runs_before, runs)
