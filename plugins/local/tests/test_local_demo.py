"""The flagship demo, unchanged, through ``rose run`` on the ``local`` backend (the reference run).

The Dask and RADICAL-Pilot plugins run the same command with only ``--backend`` changed
and check the same things: the iteration count, and that every file the tasks write is
inside the campaign directory (each learner's tasks run in its ``learner-N/`` folder).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

for _module in ("numpy", "scipy", "sklearn", "matplotlib"):
    # the flagship demo's own dependencies (make demo installs them); not the plugin's
    pytest.importorskip(_module, reason=f"the flagship demo needs {_module}; install the demo's dependencies")

REPO = Path(__file__).resolve().parents[3]
DEMO = REPO / "examples" / "surrogate_demo" / "workflow.py"
DEMO_ARGS = ["--no-mlflow", "--holdout", "20", "--iterations", "2", "--candidates", "50", "--initial", "4",
             "--batch", "2"]


def files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_flagship_demo_on_local(tmp_path: Path) -> None:
    from rose.runs import load_run

    env = {**os.environ, "ROSE_RUNS_DIR": str(tmp_path / "runs")}
    command = [str(Path(sys.executable).parent / "rose"), "run", str(DEMO), "--backend", "local",
               "--backend-option", "max_workers=2", "--", *DEMO_ARGS]
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-4000:]
    # quiet at the default log level: no library INFO or WARNING lines
    assert "INFO" not in result.stderr and "WARNING" not in result.stderr, result.stderr
    outside = {f for f in files(tmp_path) if not f.startswith("runs/")}
    assert not outside, f"tasks wrote outside the campaign directory: {outside}"
    [campaign] = [p for p in (tmp_path / "runs").iterdir() if not p.name.startswith(".")]
    run = load_run(str(campaign))
    for learner_id in (0, 1):
        assert len(run.learners[learner_id].iterations) == 2, run.learners[learner_id].iterations
        written = files(campaign / f"learner-{learner_id}")
        assert {"batch-000.npz", "batch-001.npz", "batch-001.npy", "metrics.json", "surrogate.json"} <= written
