"""The flagship demo, unchanged, on a RADICAL-Pilot pilot on ``local.localhost`` (~60 s).

``rose run examples/surrogate_demo/workflow.py --backend radical --backend-option cores=2
...``: the same iterations as on ``local`` and Dask, every file its tasks write inside the
campaign directory (RP's own session folder goes to ``runs/.radical``), function tasks
(the Gaussian-process training and the selection, which import the script's sibling
module ``surrogate``) run in the pilot's Python without Raptor, and the pilot's states are
visible at INFO.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("radical.pilot", reason="RADICAL-Pilot is not installed")

for _module in ("numpy", "scipy", "sklearn", "matplotlib"):
    # the flagship demo's own dependencies (make demo installs them); not the plugin's
    pytest.importorskip(_module, reason=f"the flagship demo needs {_module}; install the demo's dependencies")

REPO = Path(__file__).resolve().parents[3]
DEMO = REPO / "examples" / "surrogate_demo" / "workflow.py"
DEMO_ARGS = ["--no-mlflow", "--holdout", "20", "--iterations", "2", "--candidates", "50", "--initial", "4",
             "--batch", "2"]


def run_rose(command: list[str], cwd: Path, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    """``subprocess.run`` that ends the campaign on timeout as a user would: SIGTERM first (``rose run``
    then cancels its pilot, ~16 s), SIGKILL to the whole process group after 60 s; a failed test
    leaves no ``rose run`` or pilot agent behind."""
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            stdout, stderr = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate()
        pytest.fail(f"rose run did not end within {timeout:.0f} s (ended with SIGTERM):\n{stderr[-4000:]}")
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_flagship_demo_on_a_local_pilot(tmp_path: Path) -> None:
    from rose.runs import load_run

    env = {**os.environ, "ROSE_RUNS_DIR": str(tmp_path / "runs")}
    command = [str(Path(sys.executable).parent / "rose"), "--log-level", "INFO", "run", str(DEMO),
               "--backend", "radical", "--backend-option", "cores=2", "--backend-option", "runtime=10",
               "--", *DEMO_ARGS]
    result = run_rose(command, tmp_path, env, timeout=240)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "Import `radical` modules" not in result.stderr
    for state in ("submitted to local.localhost", ": active on local.localhost"):
        assert state in result.stderr, f"pilot state {state!r} not logged:\n{result.stderr[-3000:]}"
    outside = {f for f in files(tmp_path) if not f.startswith("runs/")}
    assert not outside, f"tasks wrote outside the campaign directory: {outside}"
    [campaign] = [p for p in (tmp_path / "runs").iterdir() if not p.name.startswith(".")]
    run = load_run(str(campaign))
    for learner_id in (0, 1):
        assert len(run.learners[learner_id].iterations) == 2, run.learners[learner_id].iterations
        written = files(campaign / f"learner-{learner_id}")
        assert {"batch-000.npz", "batch-001.npz", "batch-001.npy", "metrics.json", "surrogate.json"} <= written
