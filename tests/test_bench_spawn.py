"""Scenario 9's worker (benchmarks/spawn.py) runs end to end and reports every figure.

Tiny sizes and a small ballast: this checks the harness (real learners, real ``/bin/true``
processes, the ballast allocated and freed), not the speed, which ``make bench`` reports.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(not Path("/bin/true").exists() or not Path("/bin/echo").exists(),
                    reason="scenario 9 runs /bin/true and /bin/echo, which this system does not have")
def test_spawn_benchmark_reports_ratios_against_its_own_floor(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "spawn.py"), "--tasks", "16", "--concurrency", "2",
         "--ballast-gib", "0.02", "--reps", "1"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
        env={"PATH": "/usr/bin:/bin", "ROSE_RUNS_DIR": str(tmp_path / "runs")},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["tasks"] == {"sequential": 16, "concurrent": 16, "vfork": 16}
    for key in ("sequential_floor_ratio", "concurrent_floor_ratio", "sequential_ballast_ratio",
                "concurrent_ballast_ratio", "ballast_sequential_floor_ratio", "vfork_floor_ms_per_task",
                "sequential_rose_cpu_ms_per_task"):
        assert result[key] > 0, key
    assert result["rss_mb"]["ballast_"] - result["rss_mb"]["plain"] >= 15  # the ballast was really touched
    assert len(list((tmp_path / "runs").iterdir())) >= 4  # real campaigns, each in its run directory
