"""`make demo` in a shortened form: the surrogate campaign end to end, as a user runs it.

Real processes for the simulations, the real local backend, the real MLflow tracker (sqlite
store in the campaign directory). Checks the closing summary against the journal, the
learning-curve PNG (one line per learner) and the MLflow runs.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from test_cli_runs import count_color, png_info

from rose.runs import load_run, reached_target

DEMO = Path(__file__).resolve().parents[1] / "examples" / "surrogate_demo" / "workflow.py"
SHORT = ["--target", "12", "--iterations", "4", "--holdout", "150", "--candidates", "600"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    runs = tmp_path_factory.mktemp("demo") / "runs"
    env = {**os.environ, "ROSE_RUNS_DIR": str(runs)}
    for name in ("ROSE_BACKEND", "ROSE_TRACKERS", "ROSE_MAX_ITER", "ROSE_DRY_RUN", "ROSE_RESUME", "MLFLOW_TRACKING_URI"):
        env.pop(name, None)
    result = subprocess.run([sys.executable, str(DEMO), *SHORT], capture_output=True, text=True, env=env,
                            timeout=240, cwd=str(runs.parent))
    assert result.returncode == 0, result.stdout + result.stderr
    (run_dir,) = [p for p in runs.iterdir() if p.is_dir() and p.name.endswith("surrogate-demo")]
    return result.stdout, load_run(run_dir)


def test_summary_matches_the_journal(demo):
    out, run = demo
    summary = out[out.index("ROSE surrogate demo:"):]
    assert "target hold-out RMSE < 12 m" in summary
    assert run.learner_type == "ParallelActiveLearner" and run.status in ("criterion_met", "max_iter_reached")
    reached = {}
    for learner_id, strategy in enumerate(("uncertainty", "random")):
        history = run.learners[learner_id]
        assert history.label == strategy
        hit = reached_target(history, 12.0, "<")
        reached[strategy] = hit["labeled_count"] if hit else None
        row = next(line.split() for line in summary.splitlines() if line.strip().startswith(strategy + " "))
        assert row[1] == (str(reached[strategy]) if hit else "not")
        assert row[-1] == history.status
        # every iteration trains on 10 initial + 8 selected simulations per iteration
        assert [s["labeled_count"] for s in history.iterations] == [10 + 8 * i for i in range(len(history.iterations))]
    done = {s: n for s, n in reached.items() if n}
    assert done, "the shortened demo must actually reach its target"
    best = min(done.values())
    winners = sorted(s for s, n in done.items() if n == best)
    verdict = next(line for line in summary.splitlines() if line.startswith(("Winner:", "A tie:")))
    if len(winners) == 1:
        assert verdict.startswith(f"Winner: {winners[0]} sampling reached the target with {best} simulations")
    else:
        assert verdict.startswith(f"A tie: {' and '.join(winners)}")
    assert re.search(r"^Wall time: \d+ s", summary, re.M)


def test_learning_curve_png(demo):
    out, run = demo
    plot = os.path.join(run.path, "learning_curve.png")
    assert f"Plot:      {plot}" in out
    image = png_info(plot)
    assert image.info["Description"] == "learning curves: uncertainty; random | threshold: < 12"
    assert count_color(image, "#0072B2") > 200 and count_color(image, "#D55E00") > 200
    assert f"Journal:   {run.journal}" in out
    assert {os.path.basename(os.path.dirname(h.journal)) for h in run.learners.values()} == {"learner-0", "learner-1"}


def test_mlflow_runs(demo):
    pytest.importorskip("rose_plugin_mlflow", reason="the demo records MLflow runs only with rose-plugin-mlflow")
    from mlflow.tracking import MlflowClient

    out, run = demo
    uri = f"sqlite:///{os.path.dirname(run.path)}/mlflow.db"  # one store shared by the runs folder
    assert f"mlflow ui --backend-store-uri {uri}" in out
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name("rose-surrogate-demo")
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if r.data.tags.get("rose.run_dir") == run.path and "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1
    children = {r.info.run_name.rsplit("/", 1)[-1]: r for r in runs
                if r.data.tags.get("mlflow.parentRunId") == parents[0].info.run_id}
    assert sorted(children) == ["random", "uncertainty"]  # named by the learners' labels
    artifacts = [a.path for a in client.list_artifacts(parents[0].info.run_id)]
    assert "error_vs_simulations.png" in artifacts
    for learner_id, child in enumerate([children["uncertainty"], children["random"]]):
        history = client.get_metric_history(child.info.run_id, "root_mean_squared_error_rmse")
        expected = [s["metric_value"] for s in run.learners[learner_id].iterations]
        assert [m.value for m in sorted(history, key=lambda m: m.step)] == pytest.approx(expected)
