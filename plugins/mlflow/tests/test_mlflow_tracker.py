"""MLflowTracker against a real MLflow sqlite store, read back with MlflowClient."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from typing import Any

import pytest
from rose_plugin_mlflow import MLflowTracker
from rose_plugin_mlflow.tracker import mlflow_key

import rose
from rose import LearnerConfig, TaskConfig

# MLflow 3.17's sqlite store uses a loader option SQLAlchemy 2.1 deprecates; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:DeprecationWarning")


def client_for(uri: str) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(uri)


def artifact_text(client: Any, run_id: str, name: str, tmp_path: Any) -> str:
    local = client.download_artifacts(run_id, name, os.fspath(tmp_path))
    with open(local, encoding="utf-8") as handle:
        return handle.read()


async def test_mlflow_sequential_campaign_is_recorded(
    rose_engine, tmp_path, mlflow_store, experiment, al_learner, metric_history
):
    learner = al_learner(rose_engine, tmp_path / "campaign", [0.5, 0.2, 0.05, 0.004])
    tracker = rose.tracker("mlflow", experiment_name=experiment, tracking_uri=mlflow_store)
    assert isinstance(tracker, MLflowTracker)
    learner.add_tracker(tracker)
    config = LearnerConfig(
        training=TaskConfig(kwargs={"--learning_rate": "0.01", "--optimizer": "adam", "epochs": 3, "odd key:*": 1}),
        simulation=TaskConfig(args=("--grid", "64")),
        active_learn=TaskConfig(kwargs={"--batch": 4}),  # a field the AL plugin's configuration class provides
    )
    states = [s async for s in learner.start(max_iter=10, initial_config=config)]
    assert [s.iteration for s in states] == [0, 1, 2, 3]

    client = client_for(mlflow_store)
    run = client.get_run(tracker.run_id)
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "campaign"
    assert client.get_experiment(run.info.experiment_id).name == experiment
    params = run.data.params
    assert params["learner_type"] == "SequentialActiveLearner"
    assert params["max_iter"] == "10"
    assert params["criterion/metric_name"] == "mean_squared_error_mse"
    assert float(params["criterion/threshold"]) == 0.01
    assert params["criterion/operator"] == "<"
    assert params["task/simulation/as_executable"] == "False"
    assert params["task/simulation/simulator"] == "toy-oscillator"  # log_params
    assert params["task/training/function"].endswith(".train")
    # every config value, '--' keys included; a key MLflow would reject is sanitised
    assert params["config/training/--learning_rate"] == "0.01"
    assert params["config/training/--optimizer"] == "adam"
    assert params["config/training/epochs"] == "3"
    assert params["config/training/odd key__"] == "1"
    assert json.loads(params["config/simulation/args"]) == ["--grid", "64"]
    assert params["config/active_learn/--batch"] == "4"

    steps = [0, 1, 2, 3]
    assert metric_history(client, run.info.run_id, "mean_squared_error_mse") == list(zip(steps, [0.5, 0.2, 0.05, 0.004]))
    assert [s for s, _ in metric_history(client, run.info.run_id, "labeled_count")] == steps  # numpy int64
    assert metric_history(client, run.info.run_id, "train_loss")[0][1] == pytest.approx(1 / 6)  # numpy float32
    assert [v for _, v in metric_history(client, run.info.run_id, "converged")] == [0.0, 0.0, 1.0, 1.0]  # bool
    assert [v for _, v in metric_history(client, run.info.run_id, "pool_exhausted")] == [0.0] * 4  # numpy bool_
    assert [v for _, v in metric_history(client, run.info.run_id, "config/training/--learning_rate")] == [0.01] * 4
    assert "pool_name" not in run.data.metrics  # strings are not metrics
    tags = run.data.tags
    assert tags["stop_reason"] == "criterion_met"
    assert tags["final_iteration"] == "3"
    assert tags["config/training/--optimizer"] == "adam"
    assert tags["rose.run_dir"] == os.fspath(tmp_path / "campaign")

    names = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert names == {"learning_curve.png", "final_state.json", "manifest.json"}
    png = client.download_artifacts(run.info.run_id, "learning_curve.png", os.fspath(tmp_path))
    with open(png, "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
    final = json.loads(artifact_text(client, run.info.run_id, "final_state.json", tmp_path))
    assert final["reason"] == "criterion_met"
    assert final["final_state"]["iteration"] == 3
    assert final["final_state"]["metric_history"] == [0.5, 0.2, 0.05, 0.004]
    manifest = json.loads(artifact_text(client, run.info.run_id, "manifest.json", tmp_path))
    assert manifest["learner_type"] == "SequentialActiveLearner"


async def test_mlflow_default_store_is_one_sqlite_store_for_the_runs_folder(rose_engine, tmp_path, experiment, al_learner):
    """Two campaigns of one runs folder land in one store, so `mlflow ui` compares them side by side."""
    import mlflow

    assert not mlflow.is_tracking_uri_set()
    runs = tmp_path / "runs"
    trackers = []
    for name in ("first", "second"):
        learner = al_learner(rose_engine, runs / name, [0.5, 0.001])
        tracker = MLflowTracker(experiment)
        learner.add_tracker(tracker)
        await learner.start(max_iter=5)
        trackers.append(tracker)

    uri = "sqlite:///" + os.fspath(runs / "mlflow.db")
    assert [t.resolved_tracking_uri for t in trackers] == [uri, uri]
    assert not (runs / "first" / "mlflow.db").exists()
    client = client_for(uri)
    found = client.search_runs([trackers[0].experiment_id])
    assert sorted(r.info.run_name for r in found) == ["first", "second"]
    for tracker in trackers:
        run = client.get_run(tracker.run_id)
        assert run.info.status == "FINISHED"
        assert run.info.artifact_uri.startswith((runs / "mlartifacts").as_uri())
        assert (runs / "mlartifacts" / tracker.run_id / "artifacts" / "learning_curve.png").is_file()


async def test_mlflow_run_fails_after_a_task_error(
    rose_engine, tmp_path, mlflow_store, experiment, al_learner, metric_history
):
    learner = al_learner(rose_engine, tmp_path / "failing", [0.5, 0.4, 0.3], fail_at=2)
    tracker = MLflowTracker(experiment, tracking_uri=mlflow_store)
    learner.add_tracker(tracker)
    with pytest.raises(RuntimeError, match="surrogate diverged"):
        async for _ in learner.start(max_iter=10):
            pass
    client = client_for(mlflow_store)
    run = client.get_run(tracker.run_id)
    assert run.info.status == "FAILED"
    assert run.data.tags["stop_reason"] == "error"
    assert run.data.tags["final_iteration"] == "1"
    assert metric_history(client, tracker.run_id, "mean_squared_error_mse") == [(0, 0.5), (1, 0.4)]
    final = json.loads(artifact_text(client, tracker.run_id, "final_state.json", tmp_path))
    assert final["reason"] == "error"


async def test_mlflow_stream_learners_get_nested_runs(
    rose_engine, tmp_path, mlflow_store, experiment, al_learner, metric_history
):
    """Two SequentialActiveLearners streamed together: one parent run, one child per learner_id."""
    from rose.streaming import stream_learners

    tracker = MLflowTracker(experiment, run_name="two-learners", tracking_uri=mlflow_store)
    first = al_learner(rose_engine, tmp_path / "l0", [0.5, 0.2, 0.005], learner_id=0)
    second = al_learner(rose_engine, tmp_path / "l1", [0.9, 0.8, 0.7, 0.6], learner_id=1,
                        log_params={"simulator": "other"})
    for learner in (first, second):
        learner.add_tracker(tracker)
    runs = [(0, first.start(max_iter=4).__aiter__()), (1, second.start(max_iter=4).__aiter__())]
    seen = [(s.learner_id, s.iteration) async for s in stream_learners(runs)]
    assert sorted(seen) == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2), (1, 3)]

    client = client_for(mlflow_store)
    parent = client.get_run(tracker.run_id)
    assert parent.info.status == "FINISHED"
    assert parent.info.run_name == "two-learners"
    children = client.search_runs(
        [parent.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    by_learner = {c.data.tags["rose.learner_id"]: c for c in children}
    assert sorted(by_learner) == ["0", "1"]
    assert tracker.child_run_ids == {0: by_learner["0"].info.run_id, 1: by_learner["1"].info.run_id}
    zero, one = by_learner["0"], by_learner["1"]
    assert metric_history(client, zero.info.run_id, "mean_squared_error_mse") == [(0, 0.5), (1, 0.2), (2, 0.005)]
    assert metric_history(client, one.info.run_id, "mean_squared_error_mse") == [(0, 0.9), (1, 0.8), (2, 0.7), (3, 0.6)]
    assert zero.data.params["learner_id"] == "0"
    assert (zero.data.tags["stop_reason"], zero.data.tags["final_iteration"]) == ("criterion_met", "2")
    assert (one.data.tags["stop_reason"], one.data.tags["final_iteration"]) == ("max_iter_reached", "3")
    assert zero.info.status == one.info.status == "FINISHED"
    assert "mean_squared_error_mse" not in parent.data.metrics  # metrics live in the child runs
    assert parent.data.params["task/simulation/simulator"] == "toy-oscillator"
    assert parent.data.tags["final_iteration"] == "3"
    assert {a.path for a in client.list_artifacts(parent.info.run_id)} >= {"learning_curve.png", "final_state.json"}
    final = json.loads(artifact_text(client, parent.info.run_id, "final_state.json", tmp_path))
    assert sorted(final["learners"]) == ["0", "1"]
    from PIL import Image

    with Image.open(client.download_artifacts(parent.info.run_id, "learning_curve.png", os.fspath(tmp_path))) as png:
        assert png.info["Description"].startswith("learning curves: learner 0; learner 1 |")  # both directories' learners
    assert {a.path for a in client.list_artifacts(zero.info.run_id)} == {"final_state.json"}


async def test_mlflow_parallel_active_learner_with_failing_member(
    rose_engine, tmp_path, mlflow_store, experiment, metric_history
):
    """ParallelActiveLearner (one campaign, states tagged with learner_id): one member fails.

    The parent run is FAILED, the member that completed is FINISHED, the failed one FAILED;
    each member's configuration is a parameter of the parent (from the manifest) and of its
    own nested run.
    """
    from rose.al import ParallelActiveLearner
    from rose.errors import LearnerFailedError

    acl = ParallelActiveLearner(rose_engine, run_dir=os.fspath(tmp_path / "parallel"))
    calls: dict[int, int] = {}

    @acl.simulation_task(as_executable=False, log_params={"simulator": "toy"})
    async def simulate(*args, **kwargs):
        return {"labeled_count": 10}

    @acl.training_task(as_executable=False)
    async def train(*args, **kwargs):
        return {"train_loss": 0.1}

    @acl.active_learn_task(as_executable=False)
    async def select(*args, **kwargs):
        return None

    @acl.as_stop_criterion(metric_name="mean_squared_error_mse", threshold=0.01, as_executable=False)
    async def criterion(*args, learner, values, fail_at=None):
        i = calls[learner] = calls.get(learner, -1) + 1
        if i == fail_at:
            raise RuntimeError(f"learner {learner} diverged")
        return values[min(i, len(values) - 1)]

    configs = [
        LearnerConfig(training=TaskConfig(kwargs={"--lr": 0.1}),
                      criterion=TaskConfig(kwargs={"learner": 0, "values": [0.5, 0.2, 0.1]})),
        LearnerConfig(training=TaskConfig(kwargs={"--lr": 0.2}),
                      criterion=TaskConfig(kwargs={"learner": 1, "values": [0.9, 0.8], "fail_at": 1})),
    ]
    tracker = MLflowTracker(experiment, tracking_uri=mlflow_store)
    acl.add_tracker(tracker)
    with pytest.raises(LearnerFailedError):
        await acl.start(parallel_learners=2, max_iter=3, learner_configs=configs)

    client = client_for(mlflow_store)
    parent = client.get_run(tracker.run_id)
    assert parent.info.status == "FAILED"
    assert parent.data.tags["stop_reason"] == "error"
    assert parent.data.params["learner_type"] == "ParallelActiveLearner"
    assert parent.data.params["parallel_count"] == "2"
    assert parent.data.params["learner_0/config/training/--lr"] == "0.1"
    assert parent.data.params["learner_1/config/training/--lr"] == "0.2"
    assert parent.data.params["task/simulation/simulator"] == "toy"
    runs = {lid: client.get_run(rid) for lid, rid in tracker.child_run_ids.items()}
    assert sorted(runs) == [0, 1]
    assert all(r.data.tags["mlflow.parentRunId"] == parent.info.run_id for r in runs.values())
    assert (runs[0].info.status, runs[0].data.tags["stop_reason"]) == ("FINISHED", "max_iter_reached")
    assert (runs[1].info.status, runs[1].data.tags["stop_reason"]) == ("FAILED", "error")
    assert runs[1].data.params["config/training/--lr"] == "0.2"
    assert metric_history(client, runs[1].info.run_id, "config/training/--lr") == [(0, 0.2)]
    assert metric_history(client, runs[0].info.run_id, "mean_squared_error_mse") == [(0, 0.5), (1, 0.2), (2, 0.1)]
    assert metric_history(client, runs[0].info.run_id, "labeled_count") == [(0, 10), (1, 10), (2, 10)]


async def test_mlflow_unreachable_server_does_not_stop_the_campaign(
    rose_engine, tmp_path, experiment, al_learner, monkeypatch, caplog
):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "1")
    learner = al_learner(rose_engine, tmp_path / "offline", [0.5, 0.3, 0.2])
    tracker = MLflowTracker(experiment, tracking_uri="http://127.0.0.1:9")
    learner.add_tracker(tracker)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="rose_plugin_mlflow"):
        states = [s async for s in learner.start(max_iter=3)]
    assert [s.iteration for s in states] == [0, 1, 2]
    assert time.monotonic() - started < 30
    assert not tracker.active
    assert tracker.run_id is None
    warnings = [r.getMessage() for r in caplog.records if r.name.startswith("rose_plugin_mlflow")]
    assert len(warnings) == 1, warnings
    assert "http://127.0.0.1:9" in warnings[0]
    assert "starting the MLflow run failed" in warnings[0]
    assert "campaign goes on" in warnings[0]
    assert "127.0.0.1" in warnings[0].split("failed:", 1)[1]  # the cause is included


async def test_mlflow_works_alongside_console_and_jsonl(rose_engine, tmp_path, mlflow_store, experiment, al_learner, caplog):
    from rose.builtin.trackers import ConsoleTracker, JsonlTracker

    learner = al_learner(rose_engine, tmp_path / "together", [0.5, 0.2, 0.001])
    jsonl = tmp_path / "events.jsonl"
    second = MLflowTracker(experiment + "-second", tracking_uri=mlflow_store)
    first = MLflowTracker(experiment, tracking_uri=mlflow_store)
    for tracker in (ConsoleTracker(), JsonlTracker(os.fspath(jsonl)), first, second):
        learner.add_tracker(tracker)
    with caplog.at_level(logging.INFO, logger="rose.progress"):
        await learner.start(max_iter=5)
    events = [json.loads(line)["event"] for line in jsonl.read_text().splitlines()]
    assert events == ["start", "iteration", "iteration", "iteration", "stop"]
    assert any("iteration 2" in r.getMessage() for r in caplog.records if r.name == "rose.progress")
    client = client_for(mlflow_store)
    one, two = client.get_run(first.run_id), client.get_run(second.run_id)
    assert one.info.run_id != two.info.run_id and one.info.experiment_id != two.info.experiment_id
    for run in (one, two):
        assert run.info.status == "FINISHED"
        assert run.data.metrics["mean_squared_error_mse"] == 0.001


async def test_mlflow_tracker_can_follow_consecutive_campaigns(rose_engine, tmp_path, mlflow_store, experiment, al_learner):
    tracker = MLflowTracker(experiment, tracking_uri=mlflow_store, log_artifacts=False)
    ids = []
    for n in range(2):
        learner = al_learner(rose_engine, tmp_path / f"again-{n}", [0.5, 0.001])
        learner.add_tracker(tracker)
        await learner.start(max_iter=3)
        ids.append(tracker.run_id)
    assert len(set(ids)) == 2
    client = client_for(mlflow_store)
    assert [client.get_run(i).info.run_name for i in ids] == ["again-0", "again-1"]


def test_mlflow_contract_check(tmp_path, mlflow_store, experiment):
    from rose.testing import check_tracker

    tracker = MLflowTracker(experiment, tracking_uri=mlflow_store)
    check_tracker(tracker)
    client = client_for(mlflow_store)
    run = client.get_run(tracker.run_id)
    assert run.info.status == "FINISHED"
    assert run.data.metrics == {"mean_squared_error_mse": 0.5, "labeled": 3.0}
    assert run.data.tags["stop_reason"] == "max_iter_reached"
    # a manifest without a campaign directory (no journal to draw from): no plot, the rest is there
    assert {a.path for a in client.list_artifacts(run.info.run_id)} == {"final_state.json", "manifest.json"}


def test_mlflow_keys_are_sanitised_for_mlflow():
    assert mlflow_key("config/simulation/--n_labeled") == "config/simulation/--n_labeled"
    assert mlflow_key("a:b*c?") == "a_b_c_"
    assert mlflow_key("/lead//double/./dots/../end/") == "lead/double/_/dots/__/end"
    assert mlflow_key("") == "_"
    assert len(mlflow_key("k" * 400)) == 250


def test_mlflow_tracker_rejects_bad_options():
    with pytest.raises(ValueError, match="experiment_name"):
        MLflowTracker("")
    with pytest.raises(ValueError, match="tracking_uri"):
        MLflowTracker("x", tracking_uri="  ")
    with pytest.raises(ValueError, match="queue_size"):
        MLflowTracker("x", queue_size=0)


def test_mlflow_plugin_entry_point_is_cheap_and_registered():
    code = (
        "import sys, rose\n"
        "from rose.plugins import registry, plugin_infos\n"
        "spec = registry().trackers['mlflow']\n"
        "info = [i for i in plugin_infos() if i.name == 'mlflow'][0]\n"
        "assert info.distribution == 'rose-plugin-mlflow', info\n"
        "assert 'mlflow' not in sys.modules and 'matplotlib' not in sys.modules\n"
        "tracker = rose.tracker('mlflow', experiment_name='x')\n"
        "assert type(tracker).__name__ == 'MLflowTracker'\n"
        "assert 'mlflow' not in sys.modules, 'creating the tracker must not import mlflow'\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
