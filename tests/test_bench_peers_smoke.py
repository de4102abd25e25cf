"""Benchmark scenario 10 (ROSE against its peers) runs end to end at tiny sizes.

The peers (Dask, Ray, Parsl) live in ``.venv-bench``, which ``make bench-env`` creates and
``make test`` does not (about a minute and 300 MB). Without it this test is skipped, with
the reason. With it, ``run.py --smoke --only 10`` starts real peers and real ROSE
campaigns in fresh processes, prints one parseable line per comparison and writes the
section of the results file.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH_PYTHON = ROOT / ".venv-bench" / "bin" / "python"
LINE = re.compile(r"^peers: (fan-out|al-loop|executables|wrapping) (\S+): ROSE/peer = (\S+)x", re.MULTILINE)


def test_peers_scenario_prints_a_ratio_per_comparison_and_writes_its_section(tmp_path: Path) -> None:
    if not BENCH_PYTHON.exists():
        pytest.skip(f"SKIPPED: scenario 10's peers are not installed ({BENCH_PYTHON} is missing); "
                    "run `make bench-env` to create .venv-bench with Dask, Ray and Parsl")
    output = tmp_path / "results.md"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--smoke", "--no-rose03", "--only", "10", "--quiet",
         "--output", str(output), "--work-dir", str(tmp_path / "work")],
        cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]

    found = {(workload, peer): ratio for workload, peer, ratio in LINE.findall(proc.stdout)}
    for workload in ("fan-out", "al-loop", "executables"):
        for peer in ("threads", "dask-threads", "parsl-threads"):
            assert (workload, peer) in found, f"no `peers: {workload} {peer}` line in\n{proc.stdout}"
    assert ("wrapping", "dask") in found, proc.stdout
    for key, ratio in found.items():
        assert float(ratio) > 0, f"{key}: {ratio}"

    text = output.read_text(encoding="utf-8")
    section = text[text.index("## 10. Peers side by side"):]
    assert "failed" not in section.split("## How each figure")[0], section
    assert re.search(r"Dask \d{4}\.\d+\.\d+, distributed \d{4}", section), section  # versions recorded
    assert re.search(r"Parsl \d{4}\.\d+\.\d+", section), section
    for row in ("10a.", "10b.", "10d.", "10e."):
        assert re.search(rf"\| {re.escape(row)} .*\| [\d.]+x \|", text), f"no value in row {row}:\n{text}"


def test_a_tool_too_slow_for_the_largest_fan_out_is_not_started_and_the_table_says_why() -> None:
    """At N=10^5 a tool whose 10^4 throughput predicts more than the timeout is reported, not waited for."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from peers import scenario
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    sizes = scenario.PeerSizes(fan_out=(10_000,), fan_out_once=(100_000,), once_timeout=300.0)
    results = scenario.PeerResults(sizes, bench_python=None)
    results.cells[("fan-out", 10_000)] = {"slow": scenario.Cell(values=[100.0, 140.0]),
                                          "fast": scenario.Cell(values=[5_000.0]),
                                          "failed": scenario.Cell(errors=["timed out after 180 s"])}
    why = scenario.predicted_too_slow(results, "slow", 100_000, 300.0)
    assert why is not None and "120 tasks/s at N=10,000" in why and "833 s" in why and "300 s" in why, why
    assert scenario.predicted_too_slow(results, "fast", 100_000, 300.0) is None
    assert scenario.predicted_too_slow(results, "never-measured", 100_000, 300.0) is None
    failed = scenario.predicted_too_slow(results, "failed", 100_000, 300.0)
    assert failed == "not run: it did not finish N=10,000 (timed out after 180 s)", failed
