"""The benchmark harness runs end to end (tiny sizes, one repetition, no ROSE 0.3 install).

``make bench`` runs the full benchmark; this smoke run keeps it from rotting: every
scenario's worker starts, runs a real campaign on the real local backend and reports a
value for this project and for the floor, and the results file is written. Scenario 5
uses the built-in ``jsonl`` tracker here (importing MLflow alone takes longer than this
whole test may).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_bench_smoke_run_writes_every_scenario(tmp_path: Path) -> None:
    output = tmp_path / "results.md"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--smoke", "--no-rose03", "--tracker", "jsonl",
         "--only", "1,2,3,4,5,6,7,8,9",  # scenario 10 (the peers) has its own: tests/test_bench_peers_smoke.py
         "--quiet", "--output", str(output), "--work-dir", str(tmp_path / "work")],
        cwd=tmp_path, capture_output=True, text=True, timeout=180, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert list((tmp_path / "work").iterdir()) == []  # the campaigns' folders go at the end of the run
    assert re.search(r"\d+/\d+ targets met", proc.stdout), proc.stdout[-2000:]

    text = output.read_text(encoding="utf-8")
    assert "failed:" not in text, text
    rows = {line.split("|")[1].strip()[:3]: line for line in text.splitlines() if re.match(r"\| \d[a-f]\. ", line)}
    expected = ("1a.", "1b.", "2a.", "2b.", "2c.", "3a.", "3b.", "3c.", "3d.", "3e.", "4a.", "4b.", "4c.",
                "5a.", "5b.", "5c.", "5d.", "5e.", "5f.", "7a.", "7b.", "7c.", "7d.", "7e.", "7f.",
                "9a.", "9b.", "9c.", "9d.", "9e.")
    for key in expected:
        assert key in rows, f"no row {key} in\n{text}"
    for key, line in rows.items():
        ours = line.split("|")[2].strip()
        assert re.match(r"-?[\d.,]+(e[-+]?\d+)?\s*\S*", ours), f"row {key} has no value for this project: {line}"
    assert re.search(r"machine: .+ cores", text)
    assert "radical.asyncflow" in text  # versions are recorded
    assert f"campaign folders of scenarios 1-9 (journals, MLflow stores, `TMPDIR`) in `{tmp_path / 'work'}`" in text
    assert "a neighbour process kept the CPUs awake" in text  # how the CPUs were kept (benchmarks/_common.keep_awake)
