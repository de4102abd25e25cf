"""kill -9 at a random moment then resume gives the selections and metrics of an uninterrupted run,
for every built-in learner, both example learner plugins and a campaign selecting with the optuna
policy (one moment each here; the benchmark
``benchmarks/kill_resume.py --moments 10`` runs ten)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_kill_9_at_a_random_moment_then_resume_equals_the_uninterrupted_run() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "kill_resume.py"), "--moments", "1", "--max-iter", "4"],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert len(report["learners"]) == 12
    for name, result in report["learners"].items():
        assert "error" not in result, (name, result)
        assert result["differences"] == [], (name, result["differences"])
        assert result["moments"] == 1 and result["killed"] == 1 and result["equal"] == 1, (name, result)
