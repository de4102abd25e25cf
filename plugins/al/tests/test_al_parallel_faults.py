"""ParallelActiveLearner: break, failures, fail_fast, broken criteria, validation."""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from helpers_al import journal, read_calls

from rose import LearnerConfig, TaskConfig
from rose.al import ParallelActiveLearner, SequentialActiveLearner
from rose.errors import CriterionOutputError, LearnerFailedError, TaskFailedError
from rose.metrics import MEAN_SQUARED_ERROR_MSE
from rose.testing import RecordingTracker


def add_tasks(learner: Any, scripts: Path) -> None:
    """Executable tasks forwarding every config kwarg as ``--key value`` to the scripts."""
    code = f"{sys.executable} {scripts}"

    def flags(kwargs: dict[str, Any]) -> str:
        return "".join(f" {k} {v}" for k, v in kwargs.items())

    @learner.simulation_task
    async def simulation(*args: Any, **kwargs: Any) -> str:
        return f"{code}/sim.py{flags(kwargs)}"

    @learner.training_task
    async def training(*args: Any, **kwargs: Any) -> str:
        return f"{code}/train.py{flags(kwargs)}"

    @learner.active_learn_task
    async def active_learn(*args: Any, **kwargs: Any) -> str:
        return f"{code}/active.py{flags(kwargs)}"

    @learner.as_stop_criterion(metric_name=MEAN_SQUARED_ERROR_MSE, threshold=0.001)
    async def check_mse(*args: Any, **kwargs: Any) -> str:
        return f"{code}/check_mse.py{flags(kwargs)}"


async def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_break_cancels_every_learners_pending_task(al_engine: Any, scripts: Path) -> None:
    acl = ParallelActiveLearner(al_engine)
    add_tasks(acl, scripts)
    tracker = RecordingTracker()
    acl.add_tracker(tracker)
    slow = LearnerConfig(training={0: TaskConfig(), -1: TaskConfig(kwargs={"--sleep": "30"})})
    started = time.monotonic()
    async for state in acl.start(parallel_learners=2, max_iter=5, learner_configs=[None, slow]):
        if state.learner_id == 1:
            # learner 1 is now training for 30 s; learner 0 is somewhere in its loop
            await wait_for(lambda: read_calls(Path(acl.run_dir) / "learner-1")[-1][0] == "train")
            break
    await wait_for(lambda: tracker.stop is not None)
    assert tracker.stop is not None and tracker.stop[1] == "stopped"
    assert time.monotonic() - started < 15, "the 30 s training task was waited for"
    run_dir = Path(acl.run_dir)
    frozen = {i: read_calls(run_dir / f"learner-{i}") for i in (0, 1)}
    await asyncio.sleep(0.5)
    for i in (0, 1):
        assert read_calls(run_dir / f"learner-{i}") == frozen[i], f"learner {i} kept running after break"
        assert [r["reason"] for r in journal(run_dir / f"learner-{i}") if r["type"] == "stop"] == ["stopped"]
    assert frozen[1][-1] == ("train", ["--sleep", "30"])
    assert len(frozen[0]) < 2 + 2 * 5 + 2 * 4, "learner 0 ran to the end instead of being cancelled"


async def test_one_failing_learner_does_not_stop_the_others(
    al_engine: Any, scripts: Path, caplog: pytest.LogCaptureFixture
) -> None:
    acl = ParallelActiveLearner(al_engine)
    add_tasks(acl, scripts)
    failing = LearnerConfig(training={0: TaskConfig(), -1: TaskConfig(kwargs={"--fail": "1"})})
    states = []
    with caplog.at_level(logging.ERROR), pytest.raises(LearnerFailedError) as raised:
        async for state in acl.start(parallel_learners=3, max_iter=3, learner_configs=[None, failing, None]):
            states.append(state)
    assert set(raised.value.failures) == {1}
    error = raised.value.failures[1]
    assert isinstance(error, TaskFailedError)
    assert "training diverged: loss is nan" in str(error) and error.exit_code == 3 and error.iteration == 1
    assert "[learner-1] failed with error" in caplog.text
    assert sorted((s.learner_id, s.iteration) for s in states) == [(0, 0), (0, 1), (0, 2), (1, 0), (2, 0), (2, 1), (2, 2)]


async def test_awaited_run_reports_failure_with_the_other_results(al_engine: Any, scripts: Path) -> None:
    acl = ParallelActiveLearner(al_engine)
    add_tasks(acl, scripts)
    failing = LearnerConfig(training=TaskConfig(kwargs={"--fail": "1"}))
    with pytest.raises(LearnerFailedError) as raised:
        await acl.start(parallel_learners=2, max_iter=2, learner_configs=[failing, None])
    assert set(raised.value.failures) == {0}
    assert [(s.learner_id, s.iteration) for s in raised.value.results] == [(1, 1)]  # type: ignore[attr-defined]


async def test_fail_fast_stops_every_learner(al_engine: Any, scripts: Path) -> None:
    acl = ParallelActiveLearner(al_engine)
    add_tasks(acl, scripts)
    tracker = RecordingTracker()
    acl.add_tracker(tracker)
    failing = LearnerConfig(training=TaskConfig(kwargs={"--fail": "1"}))
    slow = LearnerConfig(active_learn=TaskConfig(kwargs={"--sleep": "30"}))
    started = time.monotonic()
    with pytest.raises(LearnerFailedError) as raised:
        await acl.start(parallel_learners=2, max_iter=3, learner_configs=[failing, slow], fail_fast=True)
    assert set(raised.value.failures) == {0}
    assert time.monotonic() - started < 15
    assert tracker.stop is not None and tracker.stop[1] == "error"
    assert [r["reason"] for r in journal(Path(acl.run_dir) / "learner-1") if r["type"] == "stop"] == ["stopped"]


async def test_criterion_printing_text_names_the_task_and_shows_output(al_engine: Any, scripts: Path) -> None:
    learner = SequentialActiveLearner(al_engine)
    add_tasks(learner, scripts)
    config = LearnerConfig(criterion=TaskConfig(kwargs={"--text": "1"}))
    with pytest.raises(CriterionOutputError) as raised:
        await learner.start(max_iter=2, initial_config=config)
    message = str(raised.value)
    assert "'check_mse' at iteration 0" in message and "MSE is low, all good" in message
    assert "did not print a number" in message


async def test_criterion_text_in_one_parallel_learner_is_reported_with_its_id(al_engine: Any, scripts: Path) -> None:
    acl = ParallelActiveLearner(al_engine)
    add_tasks(acl, scripts)
    broken = LearnerConfig(criterion=TaskConfig(kwargs={"--text": "1"}))
    with pytest.raises(LearnerFailedError) as raised:
        await acl.start(parallel_learners=2, max_iter=1, learner_configs=[None, broken])
    assert isinstance(raised.value.failures[1], CriterionOutputError)
    assert "learner 1 failed" in str(raised.value) and "MSE is low, all good" in str(raised.value)


def test_validation_happens_at_start(scripts: Path) -> None:
    acl = ParallelActiveLearner(object())
    add_tasks(acl, scripts)
    with pytest.raises(ValueError, match="parallel_learners >= 2, got 1.*SequentialActiveLearner"):
        acl.start(parallel_learners=1, max_iter=2)
    with pytest.raises(ValueError, match="learner_configs has 2 entries but there are 3 learners"):
        acl.start(parallel_learners=3, max_iter=2, learner_configs=[None, None])
    with pytest.raises(ValueError, match="learner_configs has 4 entries but there are 3 learners"):
        acl.start(parallel_learners=3, max_iter=2, learner_configs=[None] * 4)
    with pytest.raises(TypeError, match=r"learner_configs\[1\] must be a LearnerConfig or None"):
        acl.start(parallel_learners=2, max_iter=2, learner_configs=[None, {"simulation": {}}])
    with pytest.raises(TypeError, match="one LearnerConfig"):
        acl.start(parallel_learners=2, max_iter=2, learner_configs=LearnerConfig())
    with pytest.raises(ValueError, match="max_iter must be a whole number"):
        acl.start(parallel_learners=2, max_iter=-1)
    bare = ParallelActiveLearner(object())
    with pytest.raises(ValueError, match=r"needs task\(s\) \['training', 'active_learn'\]"):
        bare.start(parallel_learners=2, max_iter=1)


def function_tasks(learner: Any) -> None:
    @learner.simulation_task(as_executable=False)
    async def simulation(*args: Any, **kwargs: Any) -> dict[str, Any]:
        return {"n": kwargs.get("n", 0)}

    @learner.training_task(as_executable=False)
    async def training(*args: Any, **kwargs: Any) -> str:
        return "model"

    @learner.active_learn_task(as_executable=False)
    async def active_learn(*args: Any, **kwargs: Any) -> str:
        return "picked"


async def test_stop_reaches_every_learner(al_engine: Any) -> None:
    acl = ParallelActiveLearner(al_engine)
    function_tasks(acl)
    tracker = RecordingTracker()
    acl.add_tracker(tracker)
    seen = []
    async for state in acl.start(parallel_learners=3, max_iter=50):
        seen.append(state)
        if len(seen) == 4:
            acl.stop()
    assert len(seen) < 3 * 50
    assert tracker.stop is not None and tracker.stop[1] == "stopped"
    assert all(sub.stop_reason == "stopped" for sub in acl.learners)


async def test_teach_is_a_deprecated_alias(al_engine: Any) -> None:
    acl = ParallelActiveLearner(al_engine)
    function_tasks(acl)
    with pytest.warns(DeprecationWarning, match="teach"):
        finals = await acl.teach(parallel_learners=2, max_iter=2, learner_configs=[None, LearnerConfig(
            simulation=TaskConfig(kwargs={"n": 5}))])
    assert [(s.learner_id, s.iteration, s.n) for s in finals] == [(0, 1, 0), (1, 1, 5)]


async def test_a_configuration_of_another_kind_is_refused_before_any_learner_starts(
    al_engine: Any, scripts: Path, tmp_path: Path
) -> None:
    from attrs import define

    from rose.config import TaskConfigValue, task_field
    from rose.kinds import ConfigKindError

    @define(kw_only=True)
    class SurveyConfig(LearnerConfig):  # another kind of learner's configuration
        survey: TaskConfigValue = task_field()

    learner = ParallelActiveLearner(al_engine, run_dir=tmp_path / "run")
    add_tasks(learner, scripts)
    with pytest.raises(ConfigKindError, match=r"learner_configs\[1\]: ParallelActiveLearner takes a configuration of "
                                              r"class ActiveLearnerConfig .* sets 'survey', a task kind of SurveyConfig"):
        learner.start(parallel_learners=2, max_iter=1,
                      learner_configs=[LearnerConfig(active_learn=TaskConfig()), SurveyConfig(survey=TaskConfig())])
    assert not (tmp_path / "run").exists()  # no learner started, no task ran
