"""The documentation's ParallelExperience script, run as a user runs it (local backend)."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys

import pytest

from rose.journal import read_journal

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "examples", "reinforcement_learn", "parallel_experience")
SCRIPTS = ("run_parallel_experience.py", "environment.py", "update.py", "check_reward.py")


def test_reference_parallel_experience_script(tmp_path):
    from rose.plugins import registry

    if "local" not in registry().backends:
        pytest.skip("rose-plugin-local is not installed: the script uses rose.engine('local')")
    for name in SCRIPTS:
        shutil.copy(os.path.join(EXAMPLE, name), tmp_path / name)
    env = {**os.environ, "ROSE_RUNS_DIR": os.fspath(tmp_path / "runs")}
    # the script finds its task scripts through os.getcwd(), as in the documentation
    done = subprocess.run([sys.executable, "run_parallel_experience.py"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert "learn() is deprecated" in done.stderr

    (run_dir,) = glob.glob(os.fspath(tmp_path / "runs" / "*-parallelexperience"))
    records = list(read_journal(run_dir))
    tasks = [r for r in records if r["type"] == "task" and r["status"] == "done"]
    # every environment ran every iteration, with its own parameter
    for iteration in range(3):
        for k in range(1, 6):
            (run,) = [t for t in tasks if t["task"] == f"env_{k}" and t["iteration"] == iteration]
            assert run["command"].endswith(f"environment.py parameter={k}")
    assert not [t for t in tasks if t["iteration"] == 3]

    # the update saw the merged experience of all five environments, earlier iterations kept
    with open(os.path.join(run_dir, "work", "update_log.jsonl"), encoding="utf-8") as handle:
        updates = [json.loads(line) for line in handle]
    assert [u["iteration"] for u in updates] == [0, 1, 2]
    for update in updates:
        i = update["iteration"]
        assert update["seen"] == {f"{j}:{k}": 6 for j in range(i + 1) for k in range(1, 6)}

    # rewards 90, 180, 270: the loop stops at the first iteration above 200
    iterations = [r["state"] for r in records if r["type"] == "iteration"]
    assert [s["metric_value"] for s in iterations] == [90.0, 180.0, 270.0]
    assert [s["should_stop"] for s in iterations] == [False, False, True]
    (stop,) = [r for r in records if r["type"] == "stop"]
    assert stop["reason"] == "criterion_met" and stop["final"]["iteration"] == 2
    # each state value is journaled once, under "state" (numbers and short strings also at the top)
    assert iterations[-1]["state"]["experience_by_environment"] == {f"env_{k}": 6 for k in range(1, 6)}
    assert sorted(os.listdir(os.path.join(run_dir, "work"))) == ["experience_bank.npz", "model.json", "update_log.jsonl"]
