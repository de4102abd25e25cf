"""ClearMLTracker in ClearML's offline mode (no server): what ends up in the offline session folder.

Each campaign runs in its own process (ClearML keeps one main task per process, with atexit
hooks), with HOME in a temporary directory so the session folder is the test's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("clearml", reason="rose-plugin-clearml's tests need clearml (pip install rose-plugin-clearml)")

CAMPAIGN = """
import asyncio, json, sys
import rose
from rose import LearnerConfig, TaskConfig
from rose.al import ParallelActiveLearner, SequentialActiveLearner

kind, run_dir, fail = sys.argv[1], sys.argv[2], sys.argv[3] == "fail"

async def main():
    async with rose.engine("local") as engine:
        learner = (ParallelActiveLearner if kind == "parallel" else SequentialActiveLearner)(engine, run_dir=run_dir)
        calls = {}

        @learner.simulation_task(as_executable=False, log_params={"simulator": "toy"},
                                 resources={"env": {"API_TOKEN": "s3cret-value-42"}})
        async def simulation(*args, **kwargs):
            return {"labeled_count": 10}

        @learner.training_task(as_executable=False)
        async def training(*args, label=None, **kwargs):
            return {"learner_label": label} if label else {"train_loss": 0.5}

        @learner.active_learn_task(as_executable=False)
        async def active_learn(*args, **kwargs):
            return {}

        @learner.as_stop_criterion(metric_name="mean_squared_error_mse", threshold=0.01, as_executable=False)
        async def criterion(*args, learner=0, **kwargs):
            i = calls[learner] = calls.get(learner, -1) + 1
            if fail and i == 1:
                raise RuntimeError("surrogate diverged")
            return [0.5, 0.2, 0.005][min(i, 2)]

        tracker = rose.tracker("clearml", project_name="rose-tests", task_name="campaign-" + kind,
                               learner_names=["first", "second"], tags=["nightly"], offline=True)
        learner.add_tracker(tracker)
        try:
            if kind == "parallel":
                configs = [LearnerConfig(training=TaskConfig(kwargs={"label": "uncertainty"}),
                                         criterion=TaskConfig(kwargs={"learner": 0})),
                           LearnerConfig(criterion=TaskConfig(kwargs={"learner": 1}))]
                await learner.start(parallel_learners=2, max_iter=3, learner_configs=configs)
            else:
                await learner.start(max_iter=5)
        except Exception as exc:
            print("FAILED", type(exc).__name__, flush=True)
        print("FOLDER", tracker.offline_folder, flush=True)

asyncio.run(main())
"""


def run_campaign(tmp_path: Path, kind: str, fail: bool = False) -> tuple[Path, list[dict[str, Any]], dict[str, Any], str]:
    """(session folder, scalar events, task.json, stdout) of one offline campaign."""
    script = tmp_path / "campaign.py"
    script.write_text(CAMPAIGN)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLEARML_", "TRAINS_"))}
    env.update({"HOME": os.fspath(tmp_path / "home"), "ROSE_RUNS_DIR": os.fspath(tmp_path / "runs")})
    result = subprocess.run([sys.executable, os.fspath(script), kind, os.fspath(tmp_path / "campaign"), "fail" if fail else "ok"],
                            env=env, capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "s3cret" not in result.stdout + result.stderr
    folder = Path(next(line.split(" ", 1)[1] for line in result.stdout.splitlines() if line.startswith("FOLDER ")))
    assert folder.is_dir() and folder.is_relative_to(tmp_path / "home"), folder
    events = [e for line in (folder / "metrics.jsonl").read_text().splitlines() for e in json.loads(line)]
    return folder, events, json.loads((folder / "task.json").read_text()), result.stdout


def scalars(events: list[dict[str, Any]], metric: str) -> dict[str, list[tuple[int, float]]]:
    out: dict[str, list[tuple[int, float]]] = {}
    for e in events:
        if e.get("type") == "training_stats_scalar" and e["metric"] == metric:
            out.setdefault(e["variant"], []).append((e["iter"], e["value"]))
    return {k: sorted(v) for k, v in out.items()}


def test_clearml_sequential_campaign_in_the_offline_session(tmp_path):
    folder, events, task, _ = run_campaign(tmp_path, "sequential")
    assert task["name"] == "campaign-sequential" and task["project_name"] == "rose-tests"
    assert scalars(events, "mean_squared_error_mse") == {"value": [(0, 0.5), (1, 0.2), (2, 0.005)]}
    assert scalars(events, "labeled_count") == {"value": [(0, 10.0), (1, 10.0), (2, 10.0)]}
    params = {k: v["value"] for k, v in task["hyperparams"]["ROSE"].items()}
    assert params["learner_type"] == "SequentialActiveLearner"
    assert params["max_iter"] == "5"
    assert params["criterion/metric_name"] == "mean_squared_error_mse"
    assert params["task/simulation/simulator"] == "toy"
    assert "API_TOKEN" in params["task/simulation/resources/env"] and "s3cret" not in json.dumps(task["hyperparams"])
    properties = {k: v["value"] for k, v in task["hyperparams"]["properties"].items()}
    assert properties == {"stop_reason": "criterion_met", "final_iteration": "2"}
    assert {"nightly", "stop:criterion_met", "final_iter:2"} <= set(task["tags"])
    artifacts = {a["key"]: a for a in task["execution"]["artifacts"]}
    assert set(artifacts) >= {"final_state", "manifest"}
    final = json.loads(Path(artifacts["final_state"]["uri"]).read_text())
    assert final["reason"] == "criterion_met" and final["final_state"]["metric_value"] == 0.005
    assert "s3cret" not in Path(artifacts["manifest"]["uri"]).read_text()


def test_clearml_parallel_learners_are_series_of_one_plot_and_an_error_fails_the_task(tmp_path):
    _, events, task, stdout = run_campaign(tmp_path, "parallel", fail=True)
    assert "FAILED LearnerFailedError" in stdout
    curves = scalars(events, "mean_squared_error_mse")
    assert curves["uncertainty"][:1] == [(0, 0.5)]  # the learner's label
    assert curves["second"] == [(0, 0.5)]  # learner_names[1]; it failed at its second iteration
    assert "stop:error" in task["tags"]
    assert {k: v["value"] for k, v in task["hyperparams"]["properties"].items()}["stop_reason"] == "error"
    # each learner's configuration, by the same flat names as the MLflow tracker's (rose.tracking.campaign_params)
    params = {k: v["value"] for k, v in task["hyperparams"]["ROSE"].items()}
    assert params["learner_0/config/training/label"] == "uncertainty"
    assert params["learner_1/config/criterion/learner"] == "1"
    assert params["parallel_count"] == "2"


def test_clearml_tracker_is_registered_and_cheap_to_import():
    code = ("import sys, rose; from rose.plugins import registry; import rose_plugin_clearml.plugin; "
            "assert 'clearml' in registry().trackers; assert 'clearml' not in sys.modules; "
            "from rose_plugin_clearml.tracker import ClearMLTracker; assert 'clearml' not in sys.modules; print('ok')")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "ok", result.stderr


def test_clearml_tracker_rejects_bad_options():
    from rose_plugin_clearml import ClearMLTracker

    with pytest.raises(ValueError, match="project_name"):
        ClearMLTracker("")
    with pytest.raises(TypeError, match="learner_names"):
        ClearMLTracker("p", "t", "ab")
    with pytest.raises(TypeError, match="offline"):
        ClearMLTracker("p", offline="yes")
