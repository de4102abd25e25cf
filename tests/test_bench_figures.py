"""`benchmarks/run.py` writes its figures beside its results file, so a trial or partial run
(`--output /tmp/...`) never rewrites the figures the checkout's results.md and docs show."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _bench(output: Path) -> Any:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import run
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    bench = run.Bench.__new__(run.Bench)  # only the figure paths are asked for: no runner, no sizes
    bench.output = output
    return bench


def test_a_run_with_its_own_output_keeps_its_figures_beside_it(tmp_path: Path) -> None:
    bench = _bench(tmp_path / "trial" / "results.md")
    published = ROOT / "docs" / "img" / "steady_state.png"
    assert bench.figure("peers_fan_out.png") == (tmp_path / "trial" / "img" / "peers_fan_out.png", "img/peers_fan_out.png")
    assert bench.figure("steady_state.png", published) == (tmp_path / "trial" / "img" / "steady_state.png",
                                                          "img/steady_state.png")


def test_the_default_results_file_updates_the_published_figures() -> None:
    bench = _bench(ROOT / "benchmarks" / "results.md")
    published = ROOT / "docs" / "img" / "steady_state.png"
    assert bench.figure("peers_fan_out.png") == (ROOT / "benchmarks" / "img" / "peers_fan_out.png",
                                                 "img/peers_fan_out.png")
    assert bench.figure("steady_state.png", published) == (published, "../docs/img/steady_state.png")
