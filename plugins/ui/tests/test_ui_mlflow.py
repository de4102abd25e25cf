"""The MLflow link: a real campaign tracked by the MLflow plugin (sqlite store in its runs folder)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest
from helpers_ui import UiServer

WORKFLOW = """
import asyncio
import rose
from rose.al import SequentialActiveLearner

async def main():
    async with rose.engine("local") as engine:
        learner = SequentialActiveLearner(engine, name="tracked")

        @learner.simulation_task(as_executable=False)
        async def simulation(*args):
            return {"labeled_count": 3}

        @learner.training_task(as_executable=False)
        async def training(*args):
            return {}

        @learner.active_learn_task(as_executable=False)
        async def active_learn(*args):
            return {}

        @learner.as_stop_criterion(metric_name="root_mean_squared_error_rmse", threshold=0.1, as_executable=False)
        async def criterion(*args):
            return 0.5

        learner.add_tracker(rose.tracker("mlflow", experiment_name="ui-link"))
        async for state in learner.start(max_iter=2):
            pass

asyncio.run(main())
"""


def test_a_campaign_tracked_in_mlflow_links_to_its_run(tmp_path) -> None:
    if importlib.util.find_spec("rose_plugin_mlflow") is None:
        pytest.skip("SKIPPED LOUDLY: rose-plugin-mlflow is not installed here (the workspace has it)")
    runs = tmp_path / "runs"
    (tmp_path / "workflow.py").write_text(WORKFLOW)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update({"MLFLOW_DISABLE_TELEMETRY": "true", "ROSE_RUNS_DIR": os.fspath(runs)})
    done = subprocess.run([sys.executable, "workflow.py"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    (name,) = [entry for entry in os.listdir(runs) if entry.endswith("-tracked")]
    store = runs / "mlflow.db"
    before = os.stat(store).st_mtime_ns
    server = UiServer(str(runs), "--mlflow-url", "http://127.0.0.1:5555")
    try:
        link = server.json(f"/api/campaign/{name}")["mlflow"]
    finally:
        server.stop()
    assert os.stat(store).st_mtime_ns == before  # read-only
    from mlflow.tracking import MlflowClient

    run = MlflowClient(tracking_uri=f"sqlite:///{store}").get_run(link["run_id"])
    assert run.data.tags["rose.run_dir"] == os.fspath(runs / name)
    assert link["url"] == f"http://127.0.0.1:5555/#/experiments/{run.info.experiment_id}/runs/{run.info.run_id}"
    assert link["serve"] == f"mlflow ui --backend-store-uri sqlite:///{store}"
