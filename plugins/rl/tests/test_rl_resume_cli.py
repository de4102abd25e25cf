"""`rose run --resume` continues the documentation's ParallelExperience script where it stopped."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rose.journal import read_journal

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "examples" / "reinforcement_learn" / "parallel_experience" / "run_parallel_experience.py"


def rose_run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``rose run`` from the script's directory (the reference script builds paths from os.getcwd())."""
    env = {**os.environ, "ROSE_RUNS_DIR": str(cwd / "runs")}
    env.pop("ROSE_STRICT_PLUGINS", None)
    return subprocess.run([sys.executable, "-m", "rose", "run", *args], capture_output=True, text=True, env=env,
                          cwd=SCRIPT.parent, timeout=300)


def test_rose_run_resume_continues_parallel_experience_without_repeating_experience(tmp_path: Path) -> None:
    if not SCRIPT.exists():
        pytest.skip("the examples are not part of an installed plugin")
    from rose_plugin_rl.experience import ExperienceBank

    first = rose_run(str(SCRIPT), "--max-iter", "2", cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    (run_dir,) = [p for p in (tmp_path / "runs").iterdir() if not p.name.startswith(".")]
    assert [r["state"]["iteration"] for r in read_journal(str(run_dir)) if r["type"] == "iteration"] == [0, 1]
    second = rose_run(str(SCRIPT), "--max-iter", "4", "--resume", run_dir.name, cwd=tmp_path)
    assert second.returncode == 0, second.stderr[-2000:]
    records = list(read_journal(str(run_dir)))
    # the reward passes the documented threshold (200) at iteration 2: the resumed run ends there
    assert [r["state"]["iteration"] for r in records if r["type"] == "iteration"] == [0, 1, 2]
    assert [r["reason"] for r in records if r["type"] == "stop"] == ["max_iter_reached", "criterion_met"]
    assert [r["type"] for r in records].count("resume") == 1
    done = [(r["iteration"], r["task"]) for r in records if r["type"] == "task" and r["status"] == "done"]
    assert len(done) == len(set(done)), "a finished task ran again"
    bank = ExperienceBank.load(str(run_dir / "work" / "experience_bank.npz"))
    per_iteration = len(bank) // 3
    assert len(bank) == 3 * per_iteration and per_iteration > 0
    assert sorted({int(e.info["iteration"]) for e in bank}) == [0, 1, 2]
    third = rose_run(str(SCRIPT), "--resume", run_dir.name, cwd=tmp_path)
    assert third.returncode == 0 and "already met its stop criterion at iteration 2" in third.stderr
