"""The integration example (examples/integrations/mlflow/mlflow_rose.py) runs and its run reads back."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:DeprecationWarning")

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "integrations" / "mlflow" / "mlflow_rose.py"

# Runs the example's campaign on the rose.testing thread backend, for an environment where
# the default "local" backend plugin (rose-plugin-local) is not installed.
RUN_ON_TEST_BACKEND = """
import asyncio, importlib.util, sys
import rose
from rose import plugins
from rose.testing import TestBackendPlugin, TEST_BACKEND
plugins.get_plugin_manager().register(TestBackendPlugin, name="rose-testing")
plugins.invalidate()
spec = importlib.util.spec_from_file_location("mlflow_rose", sys.argv[1])
example = importlib.util.module_from_spec(spec)
spec.loader.exec_module(example)

async def main():
    async with rose.engine(TEST_BACKEND) as engine:
        await example.run(engine, max_iter=int(sys.argv[2]), experiment=sys.argv[3])

asyncio.run(main())
"""


def local_backend_available() -> bool:
    from rose.plugins import registry

    return "local" in registry().backends


def test_mlflow_example_runs_and_its_run_reads_back(tmp_path, mlflow_store, experiment):
    import mlflow.sklearn
    from mlflow.tracking import MlflowClient

    uri = mlflow_store  # an already created store: a new one costs seconds of table creation
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "MLFLOW_DISABLE_TELEMETRY": "true",
           "ROSE_RUNS_DIR": os.fspath(tmp_path / "runs")}
    if local_backend_available():
        command = [sys.executable, os.fspath(EXAMPLE), "--max-iter", "2", "--experiment", experiment]
    else:
        command = [sys.executable, "-c", RUN_ON_TEST_BACKEND, os.fspath(EXAMPLE), "2", experiment]
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Iteration 1: MSE" in result.stdout
    assert "Final surrogate: 7 labels" in result.stdout

    client = MlflowClient(uri)
    found = client.get_experiment_by_name(experiment)
    (run,) = client.search_runs([found.experiment_id])
    assert run.info.status == "FINISHED"
    assert run.data.params["max_iterations"] == "2"
    assert float(run.data.params["mse_threshold"]) == 1e-5
    assert run.data.tags["stop_reason"] == "max_iter_reached"
    mse = client.get_metric_history(run.info.run_id, "mean_squared_error_mse")
    assert sorted(m.step for m in mse) == [0, 1]
    assert sorted((m.step, m.value) for m in client.get_metric_history(run.info.run_id, "labelled_count")) == [(0, 4), (1, 7)]
    assert "max_uncertainty" in run.data.metrics and "final_test_mse" in run.data.metrics
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"learning_curve.png", "data"} <= artifacts
    assert [a.path for a in client.list_artifacts(run.info.run_id, "data")] == ["data/labelled.npz"]

    (model,) = client.search_logged_models([found.experiment_id])
    assert model.source_run_id == run.info.run_id
    assert model.name == "surrogate_model"
    surrogate = mlflow.sklearn.load_model(model.artifact_location)
    assert surrogate.predict([[0.5], [1.5]]).shape == (2,)
