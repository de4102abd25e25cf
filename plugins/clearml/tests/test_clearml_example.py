"""The integration example (examples/integrations/clearml/clearml_rose.py) runs offline; its session holds both learners."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("clearml", reason="the ClearML example needs clearml (pip install rose-plugin-clearml)")

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "integrations" / "clearml" / "clearml_rose.py"


def test_clearml_example_runs_offline_and_compares_both_learners(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLEARML_", "TRAINS_"))}
    env.update({"HOME": os.fspath(tmp_path / "home"), "ROSE_RUNS_DIR": os.fspath(tmp_path / "runs")})
    result = subprocess.run([sys.executable, os.fspath(EXAMPLE), "--max-iter", "4"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith("Done. Offline session: "))
    archive = Path(line.split(": ", 1)[1].split(" ", 1)[0])
    assert archive.is_file() and archive.suffix == ".zip"
    folder = archive.with_suffix("")
    events = [e for row in (folder / "metrics.jsonl").read_text().splitlines() for e in json.loads(row)]
    series = {e["variant"] for e in events if e.get("metric") == "mean_squared_error_mse"}
    assert series == {"disagreement", "random"}
    task = json.loads((folder / "task.json").read_text())
    assert task["name"] == "disagreement vs random"
    assert task["hyperparams"]["ROSE"]["parallel_count"]["value"] == "2"
