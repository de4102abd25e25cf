"""`rose run SCRIPT`: runs a user's workflow script with overrides."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest
from core_support import run_rose

from rose.cli import main
from rose.overrides import ENV, Overrides, applied, engine_choice
from rose.runs import find_runs, load_run

WORKFLOW = textwrap.dedent(
    '''
    """A small workflow: a sequential AL campaign of function tasks on the local backend."""
    import asyncio
    import json
    import os
    import sys

    import rose
    from rose.al import SequentialActiveLearner
    from rose.metrics import MEAN_SQUARED_ERROR_MSE

    import helper  # a module next to the script: the script's directory is on sys.path

    async def main():
        async with rose.engine("local", max_workers=2) as engine:
            learner = SequentialActiveLearner(engine, name="cli-run")
            count = {"n": 0}

            @learner.simulation_task(as_executable=False)
            async def simulate(*upstream):
                count["n"] += 10
                return {"labeled_count": count["n"]}

            @learner.training_task(as_executable=False)
            async def train(*upstream):
                return "model"

            @learner.active_learn_task(as_executable=False)
            async def select(*upstream):
                return "batch"

            @learner.as_stop_criterion(metric_name=MEAN_SQUARED_ERROR_MSE, threshold=0.001, as_executable=False)
            async def check(*args):
                return 1.0 / count["n"]

            states = [s async for s in learner.start(max_iter=int(sys.argv[sys.argv.index("--iters") + 1]))]
            return learner, states

    if __name__ == "__main__":
        learner, states = asyncio.run(main())
        report = {
            "argv": sys.argv[1:],
            "helper": helper.VALUE,
            "env": {k: v for k, v in os.environ.items() if k.startswith("ROSE_")},
            "iterations": len(states),
            "trackers": [type(t).__name__ for t in learner.trackers],
        }
        with open(os.environ["REPORT"], "w") as handle:
            json.dump(report, handle)
        sys.exit(int(os.environ.get("EXIT_CODE", "0")))
    '''
)


@pytest.fixture
def workflow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    script_dir = tmp_path / "project"
    script_dir.mkdir()
    (script_dir / "helper.py").write_text("VALUE = 42\n")
    script = script_dir / "workflow.py"
    script.write_text(WORKFLOW)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ROSE_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("REPORT", str(tmp_path / "report.json"))
    for name in ENV.values():
        monkeypatch.delenv(name, raising=False)
    return script


def report(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "report.json").read_text())


def test_run_executes_the_script_like_python_and_names_its_campaign(workflow, tmp_path, capsys):
    code = main(["run", str(workflow), "--iters", "2", "--", "--max-iter", "7"])
    assert code == 0
    seen = report(tmp_path)
    # options rose does not know, and everything after `--`, are the script's
    assert seen["argv"] == ["--iters", "2", "--max-iter", "7"]
    assert seen["helper"] == 42
    assert seen["iterations"] == 2
    runs = find_runs(tmp_path / "runs")
    assert len(runs) == 1 and load_run(runs[0]).status == "max_iter_reached"
    err = capsys.readouterr().err
    assert f"campaign {runs[0]}  (rose show {os.path.basename(runs[0])})" in err
    # the overrides live only while the script runs
    assert not any(name in os.environ for name in ENV.values())


def test_run_passes_overrides_to_the_script_environment(workflow, tmp_path):
    previous = tmp_path / "runs" / "20260101-000000-old"
    previous.mkdir(parents=True)
    (previous / "journal.jsonl").write_text('{"type": "start", "learner_id": null, "manifest": {}}\n')
    code = main(["run", str(workflow), "--max-iter", "2", "--tracker", "console", "--tracker", "jsonl",
                 "--resume", "old", "--iters", "1"])
    assert code == 0
    env = report(tmp_path)["env"]
    assert env[ENV["max_iter"]] == "2"
    assert env[ENV["trackers"]] == "console,jsonl"
    assert env[ENV["resume"]] == str(previous)
    assert ENV["backend"] not in env and ENV["dry_run"] not in env


def test_run_reports_the_script_exit_code_and_errors(workflow, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EXIT_CODE", "3")
    assert main(["run", str(workflow), "--iters", "1"]) == 3
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('the script failed')\n")
    assert main(["run", str(broken)]) == 1
    assert "RuntimeError: the script failed" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--backend", "no-such-backend"], "no-such-backend"),
        (["--tracker", "no-such-tracker"], "no-such-tracker"),
        (["--resume", "no-such-run"], "cannot resume"),
        (["--max-iter", "0"], "--max-iter must be >= 1"),
    ],
)
def test_run_rejects_bad_overrides_before_running(workflow, tmp_path, capsys, args, message):
    assert main(["run", str(workflow), *args, "--iters", "1"]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "report.json").exists()


def test_run_missing_script(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.py")]) == 2
    assert "no such workflow script" in capsys.readouterr().err


def test_overrides_round_trip_and_validation(monkeypatch):
    over = Overrides(backend="dask", trackers=("mlflow",), max_iter=3, dry_run=True, resume="/tmp/run")
    assert Overrides.from_env(over.to_env()) == over
    assert Overrides.from_env({}) == Overrides()
    with pytest.raises(Exception, match="ROSE_MAX_ITER='zero' is not a whole number >= 1"):
        Overrides.from_env({"ROSE_MAX_ITER": "zero"})
    with applied(Overrides(backend="dask")):
        assert engine_choice("local", {"max_workers": 2}) == ("dask", {})
        assert engine_choice("dask", {"n_workers": 2}) == ("dask", {"n_workers": 2})
    with applied(Overrides(dry_run=True, backend="dask")):
        assert engine_choice("local", {}) == ("dry-run", {})
    assert engine_choice("local", {"max_workers": 2}) == ("local", {"max_workers": 2})


def test_max_iter_caps_every_learner(workflow, tmp_path):
    assert main(["run", str(workflow), "--max-iter", "2", "--iters", "6"]) == 0
    assert report(tmp_path)["iterations"] == 2
    (run_dir,) = find_runs(tmp_path / "runs")
    assert load_run(run_dir).status == "max_iter_reached"


def test_backend_and_tracker_overrides(workflow, tmp_path, monkeypatch):
    text = workflow.read_text().replace('rose.engine("local", max_workers=2)', 'rose.engine("no-such-backend")')
    workflow.write_text(text)
    assert main(["run", str(workflow), "--backend", "local", "--tracker", "jsonl", "--iters", "2"]) == 0
    assert report(tmp_path)["iterations"] == 2
    events = [json.loads(line)["event"] for line in (tmp_path / "rose-tracking.jsonl").read_text().splitlines()]
    assert events == ["start", "iteration", "iteration", "stop"]
    (run_dir,) = find_runs(tmp_path / "runs")
    assert load_run(run_dir).manifest["backend"] == "local"  # the journal names the engine the tasks ran on


def test_resume_continues_the_named_campaign(workflow, tmp_path):
    assert main(["run", str(workflow), "--iters", "2"]) == 0
    (first,) = find_runs(tmp_path / "runs")
    assert main(["run", str(workflow), "--resume", "latest", "--iters", "4"]) == 0
    assert find_runs(tmp_path / "runs") == [first]  # no new campaign directory
    run = load_run(first)
    assert [s["iteration"] for s in run.ordered_learners()[0].iterations] == [0, 1, 2, 3]
    assert report(tmp_path)["iterations"] == 2  # the resumed run ran iterations 2 and 3 only


def test_rose_run_prints_backend_lifecycle_lines_once(tmp_path):
    import subprocess
    import sys

    script = tmp_path / "lifecycle.py"
    script.write_text(
        "import logging\n"
        "logging.basicConfig(level=logging.INFO)\n"
        "logging.getLogger('rose.lifecycle.radical').info('pilot pilot.0000: queued on slurm (job 4711)')\n"
    )
    result = subprocess.run([sys.executable, "-m", "rose", "run", str(script)], capture_output=True, text=True,
                            cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("pilot pilot.0000: queued on slurm (job 4711)") == 1
    assert "[rose] pilot pilot.0000: queued on slurm (job 4711)" in result.stderr


def test_dry_run_without_the_dry_run_plugin_exits_2_with_one_line(tmp_path: Path) -> None:
    """Issue 26: a traceback ending in UnknownNameError and exit 1; docs/cli.md promises exit 2 and a message."""
    script = tmp_path / "workflow.py"
    script.write_text("raise SystemExit('the script must not run')\n")
    done = run_rose(["run", str(script), "--dry-run"], ROSE_DISABLE_PLUGINS="dryrun")
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install -e plugins/dryrun" in lines[0] and "Traceback" not in done.stderr, done.stderr
