"""A plain ``break`` out of a parallel learner leaves nothing running that a resume at once could race.

After ``break`` Python does not close the stream then: the event loop's async-generator hook
schedules its ``aclose()`` as a task, which cancels the children later. A resume started
at once in the same process must not run a task beside (or after) the abandoned children.
Real local backend, real ParallelActiveLearner.
"""

from __future__ import annotations

import asyncio
import collections
import os
import time
from pathlib import Path
from typing import Any

import pytest

import rose
from rose import LearnerConfig, TaskConfig
from rose.journal import read_journal

FAST, SLOW = 0.02, 0.4  # learner 0 yields its first state while learner 1 is still in its first tasks


def parallel(engine: Any, calls: list[tuple[str, str, float]], name: str) -> Any:
    from rose.al import ParallelActiveLearner

    acl = ParallelActiveLearner(engine)

    async def work(task: str, delay: float) -> dict[str, Any]:
        await asyncio.sleep(delay)  # on the local backend's threads: a cancelled task's body still runs out
        return {task: 1}

    acl.on_task_event(lambda event: calls.append((name, f"{event['task']}-{event['status']}", time.monotonic())))

    @acl.simulation_task(as_executable=False)
    async def simulation(*upstream: Any, delay: float = FAST) -> dict[str, Any]:
        return await work("simulation", delay)

    @acl.training_task(as_executable=False)
    async def training(*upstream: Any, delay: float = FAST) -> dict[str, Any]:
        return await work("training", delay)

    @acl.active_learn_task(as_executable=False)
    async def active_learn(*upstream: Any) -> dict[str, Any]:
        return await work("active_learn", 0.0)

    @acl.as_stop_criterion(metric_name="mean_squared_error_mse", threshold=0.0, as_executable=False)
    async def never(*upstream: Any) -> float:
        return 1.0

    return acl


def configs() -> list[LearnerConfig]:
    slow = TaskConfig(kwargs={"delay": SLOW})
    return [LearnerConfig(), LearnerConfig(simulation=slow, training=slow)]


def done_twice(run_dir: str) -> dict[str, list[tuple[Any, Any]]]:
    """Per child directory, the (iteration, task) its journal records as done more than once."""
    out = {}
    for folder, _dirs, files in os.walk(run_dir):
        if "journal.jsonl" in files:
            done = collections.Counter((r.get("iteration"), r.get("task")) for r in read_journal(folder)
                                       if r["type"] == "task" and r.get("status") == "done")
            out[os.path.basename(folder)] = sorted(key for key, count in done.items() if count > 1)
    return out


@pytest.mark.timeout(120)
async def test_resuming_at_once_after_a_break_runs_no_task_twice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROSE_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.chdir(tmp_path)
    calls: list[tuple[str, str, float]] = []
    async with rose.engine("local") as engine:
        first = parallel(engine, calls, "first")
        async for _state in first.start(parallel_learners=2, max_iter=3, learner_configs=configs()):
            break  # learner 1 is in the middle of its first iteration
        run_dir = first.run_dir
        abandoned = list(first.children)
        second = parallel(engine, calls, "second")
        left_running: list[Any] = []
        second.on_task_event(lambda event: left_running.extend(
            child.learner_id for child in abandoned if child.stop_reason is None and child.learner_id not in left_running))
        states = [s async for s in second.start(parallel_learners=2, max_iter=3, learner_configs=configs(),
                                                resume=run_dir)]
    assert {s.learner_id for s in states} == {0, 1}
    assert left_running == [], f"the abandoned campaign's learners {left_running} still ran beside the resumed one"
    assert all(twice == [] for twice in done_twice(run_dir).values()), done_twice(run_dir)
    resumed_at = min(t for who, _what, t in calls if who == "second")
    late = [what for who, what, t in calls if who == "first" and t >= resumed_at]
    assert late == [], f"the abandoned campaign still ran or recorded tasks after the resume started: {late}"


@pytest.mark.timeout(120)
async def test_break_resume_break_resume_ends_like_one_campaign(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each start waits only for the one before it; the last runs to max_iter and no task ran twice."""
    monkeypatch.setenv("ROSE_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.chdir(tmp_path)
    calls: list[tuple[str, str, float]] = []
    async with rose.engine("local") as engine:
        first = parallel(engine, calls, "first")
        async for _state in first.start(parallel_learners=2, max_iter=3, learner_configs=configs()):
            break
        for name in ("second", "third"):
            again = parallel(engine, calls, name)
            async for _state in again.start(parallel_learners=2, max_iter=3, learner_configs=configs(),
                                            resume=first.run_dir):
                if name == "second":
                    break
        assert again.stop_reason == "max_iter_reached"
    assert all(twice == [] for twice in done_twice(first.run_dir).values()), done_twice(first.run_dir)
    for earlier, later in (("first", "second"), ("second", "third")):
        started = min(t for who, _what, t in calls if who == later)
        assert [what for who, what, t in calls if who == earlier and t >= started] == []
