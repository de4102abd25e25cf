"""What users read back: real start and end times, runs named by label, the notice at the end, no secrets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

import pytest
from rose_plugin_mlflow import MLflowTracker
from rose_plugin_mlflow.jobs import view_hint
from rose_plugin_mlflow.tracker import metric_label

from rose import LearnerConfig, TaskConfig

pytestmark = pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:DeprecationWarning")


def client_for(uri: str) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(uri)


def labeled_learners(engine: Any, run_dir: Any, values: list[float], threshold: float, sleep: float = 0.0) -> tuple[Any, Any]:
    """A ParallelActiveLearner of function tasks and the configurations of its two learners (the first labeled
    ``uncertainty``): simulations take ``sleep`` s, the criterion reports ``values`` in turn (then the last again)."""
    import asyncio

    from rose.al import ParallelActiveLearner

    acl = ParallelActiveLearner(engine, run_dir=os.fspath(run_dir))
    reported = iter(values)

    @acl.simulation_task(as_executable=False)
    async def simulate(*args, **kwargs):
        await asyncio.sleep(sleep)
        return {"labeled_count": 10}

    @acl.training_task(as_executable=False)
    async def train(*args, label=None, **kwargs):
        return {"learner_label": label} if label else {}

    @acl.active_learn_task(as_executable=False)
    async def select(*args, **kwargs):
        return None

    @acl.as_stop_criterion(metric_name="root_mean_squared_error_rmse", threshold=threshold, as_executable=False)
    async def criterion(*args, **kwargs):
        return next(reported, values[-1])

    return acl, [LearnerConfig(training=TaskConfig(kwargs={"label": "uncertainty"})), LearnerConfig()]


async def test_nested_runs_have_real_times_and_the_learners_labels(rose_engine, tmp_path, mlflow_store, experiment):
    """Each learner takes >= 0.6 s: its run starts with the campaign, ends after its last iteration, and is named by its label."""
    acl, configs = labeled_learners(rose_engine, tmp_path / "timed", [0.5], threshold=0.0, sleep=0.2)
    tracker = MLflowTracker(experiment, tracking_uri=mlflow_store)
    acl.add_tracker(tracker)
    before = int(time.time() * 1000)
    await acl.start(parallel_learners=2, max_iter=3, learner_configs=configs)
    after = int(time.time() * 1000)

    client = client_for(mlflow_store)
    parent = client.get_run(tracker.run_id)
    assert before <= parent.info.start_time < parent.info.end_time <= after
    children = {lid: client.get_run(rid) for lid, rid in tracker.child_run_ids.items()}
    assert {lid: r.info.run_name for lid, r in children.items()} == {0: "uncertainty", 1: "learner-1"}
    for child in children.values():
        info = child.info
        assert parent.info.start_time <= info.start_time < info.end_time <= parent.info.end_time, info
        assert info.end_time - info.start_time >= 550  # three iterations of >= 0.2 s each
    # the plot's axis is readable
    assert metric_label("root_mean_squared_error_rmse") == "RMSE"


async def test_the_runs_learning_curve_is_the_one_rose_show_draws(rose_engine, tmp_path, mlflow_store, experiment):
    """The PNG attached to the campaign's run is what ``rose.plotting.learning_curve`` draws from the campaign's
    directory (same curves, names, threshold, title and pixels), with the tracker's ``metric_units`` on the axis."""
    from PIL import Image

    from rose.plotting import learning_curve

    acl, configs = labeled_learners(rose_engine, tmp_path / "compared", [0.9, 0.8, 0.5, 0.4, 0.2, 0.05], threshold=0.1)
    tracker = MLflowTracker(experiment, tracking_uri=mlflow_store, metric_units="eV")
    acl.add_tracker(tracker)
    await acl.start(parallel_learners=2, max_iter=3, learner_configs=configs)

    client = client_for(mlflow_store)
    logged = client.download_artifacts(tracker.run_id, "learning_curve.png", os.fspath(tmp_path))
    drawn = learning_curve(tmp_path / "compared", tmp_path / "core.png", units="eV")
    with Image.open(logged) as mlflow_png, Image.open(drawn) as core_png:
        assert mlflow_png.info["Description"] == core_png.info["Description"]
        assert mlflow_png.info["Description"].startswith("learning curves: uncertainty; learner 1 | threshold: < 0.1")
        assert mlflow_png.info["Title"] == core_png.info["Title"] == "compared"
        assert mlflow_png.tobytes() == core_png.tobytes()


def test_metric_labels_are_readable_with_units_where_known():
    assert metric_label("root_mean_squared_error_rmse") == "RMSE"
    assert metric_label("mean_squared_error_mse") == "MSE"
    assert metric_label("training_time") == "training time (s)"
    assert metric_label("wall_time_seconds") == "wall time (s)"
    assert metric_label("energy_error", "eV/atom") == "energy error (eV/atom)"
    assert metric_label("root_mean_squared_error_rmse", "eV") == "RMSE (eV)"


def test_the_view_hint_is_valid_for_local_stores_and_servers():
    local = view_hint("sqlite:////data/runs/mlflow.db", "3", "abc")
    assert "mlflow ui --backend-store-uri sqlite:////data/runs/mlflow.db " in local
    assert "http://127.0.0.1:5000/#/experiments/3/runs/abc" in local
    assert "'sqlite:////my runs/mlflow.db'" in view_hint("sqlite:////my runs/mlflow.db", "1", "r")  # quoted for the shell
    relative = view_hint("sqlite:///store/mlflow.db", "1", "r")  # relative to the campaign's directory: made absolute
    assert f"--backend-store-uri sqlite:///{os.path.abspath('store/mlflow.db')} " in relative
    server = view_hint("http://mlflow.example.org:5000/", "7", "def")
    assert server == "view it at http://mlflow.example.org:5000/#/experiments/7/runs/def"
    assert "mlflow ui" not in server


WORKFLOW = """
import asyncio, os, sys
import rose
from rose.al import SequentialActiveLearner

async def main():
    async with rose.engine("local") as engine:
        learner = SequentialActiveLearner(engine)

        @learner.simulation_task(as_executable=False, resources={"env": {"API_TOKEN": "s3cret-value-42"}})
        async def simulation(*args, **kwargs):
            return {"labeled": 1}

        @learner.training_task(as_executable=False)
        async def training(*args, **kwargs):
            return {}

        @learner.active_learn_task(as_executable=False)
        async def active_learn(*args, **kwargs):
            return {}

        @learner.as_stop_criterion(metric_name="root_mean_squared_error_rmse", threshold=0.1, as_executable=False)
        async def criterion(*args, **kwargs):
            return 0.5

        learner.add_tracker(rose.tracker("mlflow", experiment_name=sys.argv[1]))
        async for state in learner.start(max_iter=2):
            pass

asyncio.run(main())
"""


def test_a_plain_script_prints_how_to_view_its_run_and_keeps_secrets_and_stray_modules_out(tmp_path, experiment):
    """`python workflow.py`, no logging set up, started from a directory holding an `mlflow.py`.

    Standard error ends with one line telling how to open the run (a command that works); MLflow
    prints no deprecation warning; the planted `mlflow.py` is never imported (the writer process runs
    isolated); the task's environment value is in no parameter and not in manifest.json.
    """
    script_dir, start_dir = tmp_path / "project", tmp_path / "start"
    script_dir.mkdir()
    start_dir.mkdir()
    (script_dir / "workflow.py").write_text(WORKFLOW)
    marker = tmp_path / "planted-module-ran"
    planted = f"open({os.fspath(marker)!r}, 'w').close()\nraise SystemExit('planted mlflow.py imported')\n"
    (start_dir / "mlflow.py").write_text(planted)
    runs = tmp_path / "runs"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update({"MLFLOW_DISABLE_TELEMETRY": "true", "ROSE_RUNS_DIR": os.fspath(runs)})
    result = subprocess.run([sys.executable, os.fspath(script_dir / "workflow.py"), experiment],
                            cwd=start_dir, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert not marker.exists(), "the writer process imported ./mlflow.py"
    assert "deprecat" not in result.stderr.lower(), result.stderr

    uri = "sqlite:///" + os.fspath(runs / "mlflow.db")
    client = client_for(uri)
    (run,) = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    notices = [line for line in result.stderr.splitlines() if line.startswith("MLflow run ")]
    assert notices == [
        f"MLflow run {run.info.run_name!r} (FINISHED): view it with: mlflow ui --backend-store-uri {uri}  "
        f"(then open http://127.0.0.1:5000/#/experiments/{run.info.experiment_id}/runs/{run.info.run_id})"
    ], result.stderr
    assert run.info.status == "FINISHED"

    assert run.data.params["task/simulation/resources/env"] == json.dumps({"API_TOKEN": "***"})
    assert not [k for k, v in run.data.params.items() if "s3cret" in v]
    local = client.download_artifacts(run.info.run_id, "manifest.json", os.fspath(tmp_path))
    manifest = open(local, encoding="utf-8").read()
    assert "API_TOKEN" in manifest and "s3cret" not in manifest
    artifacts = sorted(a.path for a in client.list_artifacts(run.info.run_id))
    assert artifacts == ["final_state.json", "learning_curve.png", "manifest.json"]
    from PIL import Image

    with Image.open(client.download_artifacts(run.info.run_id, "learning_curve.png", os.fspath(tmp_path))) as png:
        assert png.info["Description"] == "learning curves: learner | threshold: < 0.1"  # the core's plot


def test_campaigns_started_together_share_a_new_store(tmp_path, experiment):
    """Three campaigns of one runs folder start at once on a store that does not exist yet: all three are recorded."""
    script = tmp_path / "workflow.py"
    script.write_text(WORKFLOW)
    runs = tmp_path / "runs"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update({"MLFLOW_DISABLE_TELEMETRY": "true", "ROSE_RUNS_DIR": os.fspath(runs)})
    processes = [subprocess.Popen([sys.executable, os.fspath(script), experiment], cwd=tmp_path, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outputs = [p.communicate(timeout=300) for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0], outputs
    assert not [err for _, err in outputs if "failed" in err], outputs  # no MLflow failure warning
    client = client_for("sqlite:///" + os.fspath(runs / "mlflow.db"))
    found = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    assert sorted(r.info.status for r in found) == ["FINISHED"] * 3
