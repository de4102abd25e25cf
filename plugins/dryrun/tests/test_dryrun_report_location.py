"""Where a dry run's report goes, and that the campaign it belongs to is marked as a dry run."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import pytest

from rose import LearnerConfig
from rose.engine import engine as make_engine
from rose.metrics import MEAN_SQUARED_ERROR_MSE
from rose.runs import DRY_RUN_MARK, DRY_RUN_REPORT, load_run


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ROSE_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.delenv("ROSE_DRY_RUN", raising=False)
    return tmp_path


def define_tasks(learner: Any) -> None:
    python = sys.executable

    @learner.simulation_task
    async def simulation(*args: Any) -> list[str]:
        return [python, "sim.py"]

    @learner.training_task
    async def training(*args: Any) -> list[str]:
        return [python, "train.py"]

    @learner.active_learn_task
    async def active_learn(*args: Any) -> list[str]:
        return [python, "select_batch.py"]

    @learner.as_stop_criterion(metric_name=MEAN_SQUARED_ERROR_MSE, threshold=0.1)
    async def check(*args: Any) -> list[str]:
        return [python, "check_mse.py"]


async def test_a_parallel_campaign_gets_its_report_and_is_marked(workdir: Path, caplog: pytest.LogCaptureFixture):
    from rose.al import ParallelActiveLearner

    caplog.set_level(logging.WARNING, logger="rose_plugin_dryrun.backend")
    async with make_engine("dry-run", work_dir=str(workdir / "engines")) as engine:
        learner = ParallelActiveLearner(engine, name="planned")
        define_tasks(learner)
        await learner.start(parallel_learners=2, max_iter=2, learner_configs=[LearnerConfig(), LearnerConfig()])
        run_dir = Path(learner.run_dir)
    report = run_dir / DRY_RUN_REPORT
    assert report.is_file() and (run_dir / DRY_RUN_MARK).is_file()
    assert "check_mse.py" in report.read_text()
    assert load_run(run_dir).dry_run
    assert not list((workdir / "engines").rglob(DRY_RUN_REPORT))  # nothing left in the engine folder
    assert f"dry run: nothing was executed; 16 task(s) planned, report: {report}" in caplog.text


async def test_report_dir_puts_the_report_where_asked(workdir: Path) -> None:
    from rose.al import SequentialActiveLearner

    target = workdir / "reports"
    async with make_engine("dry-run", work_dir=str(workdir / "engines"), report_dir=str(target)) as engine:
        learner = SequentialActiveLearner(engine, name="asked")
        define_tasks(learner)
        await learner.start(max_iter=1)
        assert engine.backend.report_paths == [str(target / DRY_RUN_REPORT)]
    assert (target / DRY_RUN_MARK).read_text().count("\n") == 4
