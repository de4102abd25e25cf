"""A whole active-learning campaign under ``dry-run``: loop structure, report, criterion."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from rose_plugin_dryrun import DryRunBackend, report_of

from rose import LearnerConfig, TaskConfig
from rose.engine import engine as make_engine
from rose.errors import ResourceError
from rose.metrics import MEAN_SQUARED_ERROR_MSE


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ROSE_RUNS_DIR", str(tmp_path / "runs"))
    return tmp_path


def build_learner(engine: Any, workdir: Path, executable_criterion: bool = True) -> Any:
    from rose.al import SequentialActiveLearner

    learner = SequentialActiveLearner(engine, run_dir=workdir / "campaign")
    python = sys.executable

    @learner.simulation_task
    async def simulation(*args: Any, **kwargs: Any) -> list[str]:
        return [python, "sim.py", "--n", str(kwargs.get("n", 10))]

    @learner.training_task
    async def training(*args: Any) -> list[str]:
        return [python, "train.py"]

    @learner.active_learn_task(as_executable=False)
    async def active_learn(sim: Any, train: Any) -> dict[str, int]:
        raise AssertionError("a dry run never calls a function task")

    if executable_criterion:

        @learner.as_stop_criterion(metric_name=MEAN_SQUARED_ERROR_MSE, threshold=0.1)
        async def check_mse(*args: Any) -> list[str]:
            return [python, "check_mse.py"]
    else:

        @learner.as_stop_criterion(metric_name="accuracy", threshold=0.9, operator=">=", as_executable=False)
        async def check_accuracy(*args: Any) -> float:
            raise AssertionError("not called")

    return learner


async def test_campaign_runs_its_structure_and_reports_it(workdir: Path) -> None:
    async with make_engine("dry-run", work_dir=str(workdir / "engine")) as engine:
        learner = build_learner(engine, workdir)
        config = LearnerConfig(simulation=TaskConfig(kwargs={"n": 5}))
        states = [state async for state in learner.start(max_iter=3, initial_config=config)]
        report = report_of(engine)
        folder = Path(learner.run_dir)  # the report lives with the campaign (its tasks run there)

    assert [s.iteration for s in states] == [0, 1, 2]
    assert all(not s.should_stop and s.metric_value > 0.1 for s in states)  # never met: max_iter bounds it
    assert learner.stop_reason == "max_iter_reached"

    by_iteration = report.by_iteration()
    assert [t.kind for t in by_iteration[0]] == ["simulation", "training", "active_learn", "criterion"]
    assert [t.kind for t in by_iteration[1]] == ["simulation", "training", "active_learn", "criterion"]
    sim0, train0, al0, crit0 = by_iteration[0]
    assert sim0.command == f"{sys.executable} sim.py --n 5"
    assert train0.depends_on == [sim0.label]
    assert al0.depends_on == [sim0.label, train0.label]
    assert al0.call is not None and "active_learn(" in al0.call
    assert crit0.command == f"{sys.executable} check_mse.py"
    sim1 = by_iteration[1][0]
    assert sim1.depends_on == [al0.label]

    text = (folder / "dry-run.txt").read_text()
    assert f"$ {sys.executable} sim.py --n 5" in text and "iteration 2:" in text
    lines = [json.loads(line) for line in (folder / "dry-run.jsonl").read_text().splitlines()]
    assert len(lines) == len(report) == 12
    assert lines[1]["depends_on"] == ["simulation#0"]


async def test_function_criterion_gets_a_value_that_does_not_meet_it(workdir: Path) -> None:
    async with make_engine("dry-run", work_dir=str(workdir / "engine")) as engine:
        learner = build_learner(engine, workdir, executable_criterion=False)
        final = await learner.start(max_iter=2)
    assert final.iteration == 1 and final.metric_value < 0.9


async def test_criterion_met_after_ends_a_campaign_without_max_iter(workdir: Path) -> None:
    async with make_engine("dry-run", work_dir=str(workdir / "engine"), criterion_met_after=2) as engine:
        learner = build_learner(engine, workdir)
        states = [state async for state in learner.start(max_iter=0)]
    assert [s.should_stop for s in states] == [False, False, True]
    assert learner.stop_reason == "criterion_met"


async def test_requests_are_checked_against_the_target(workdir: Path) -> None:
    async with make_engine("dry-run", work_dir=str(workdir / "engine")) as engine:
        from rose.learner import Learner

        learner = Learner(engine, run_dir=workdir / "run")

        @learner.training_task(resources={"ranks": 8})
        async def mpi() -> str:
            return "mpi_program"

        with pytest.raises(ResourceError, match="ranks=8") as failure:
            await mpi()
        assert "'local'" in str(failure.value) and "task 'training'" in str(failure.value)
        assert report_of(engine).tasks[-1].status == "rejected"

    async with make_engine("dry-run", work_dir=str(workdir / "engine"), target=None) as engine:
        learner = Learner(engine, run_dir=workdir / "run")

        @learner.training_task(resources={"ranks": 8})
        async def mpi_unchecked() -> str:
            return "mpi_program"

        await mpi_unchecked()
        assert report_of(engine).tasks[-1].description["resources"] == {"ranks": 8}


async def test_hand_built_engine_reports_asyncflow_tasks(workdir: Path) -> None:
    from radical.asyncflow import WorkflowEngine

    from rose.engine import restore_default_signals

    engine = await WorkflowEngine.create(backend=DryRunBackend(), work_dir=str(workdir))
    restore_default_signals()
    try:

        async def plain() -> str:
            return "echo 'x y'"

        assert await engine.executable_task(plain)() == "<dry-run plain#0>\n"
        assert report_of(engine).commands() == ["echo 'x y'"]
    finally:
        await engine.shutdown()


def test_report_of_rejects_other_engines() -> None:
    with pytest.raises(TypeError, match="rose.engine\\('dry-run'\\)"):
        report_of(object())
