"""The ``running`` record (:mod:`rose.flights`): what shows a function task while it runs.

A task is journaled when it ends; a task in flight for a second or more is also listed in a
``running`` record while it runs (at most once a second, only when the list changes), so
``rose ui`` can show it. Short tasks write none; resuming ignores the record.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from rose import flights
from rose.campaign import Outcome, Step
from rose.flights import Flights
from rose.journal import CURVE_NAME, SUMMARY_NAME, Journal, read_journal
from rose.learner import Learner
from rose.testing import PluginSandbox


class Loop(Learner):
    """One simulation per iteration."""

    required_tasks = ("simulation",)

    async def evaluate(self, step: Step) -> Outcome:
        await step.run("simulation")
        return Outcome()


def make(engine: Any, run_dir: Path, seconds: float) -> Loop:
    learner = Loop(engine, run_dir=run_dir, name="loop")

    @learner.simulation_task(as_executable=False)
    async def simulation(*args: Any, **kwargs: Any) -> dict[str, Any]:
        time.sleep(seconds)  # a function task that holds its thread, as real work does
        return {"n": 1}

    return learner


def records(run_dir: Path) -> list[dict[str, Any]]:
    return list(read_journal(str(run_dir)))


async def test_a_long_function_task_is_journaled_as_running_before_it_ends_and_a_resume_ignores_it(
    rose_plugins: PluginSandbox, rose_engine: Any, tmp_path: Path
) -> None:
    run_dir = tmp_path / "runs" / "long"
    await make(rose_engine, run_dir, 2.5).start(max_iter=1)
    journal = records(run_dir)
    kinds = [r["type"] for r in journal]
    assert "running" in kinds, kinds
    running = journal[kinds.index("running")]
    ended = next(r for r in journal if r["type"] == "task" and r["task"] == "simulation")
    assert kinds.index("running") < journal.index(ended)  # written while the task ran
    assert running["count"] == 1 and running["learner_id"] is None
    (listed,) = running["tasks"]
    assert listed["task"] == "simulation" and listed["iteration"] == 0 and listed["key"] == ended["key"]
    assert ended["time"] - ended["seconds"] - 0.1 <= listed["submit"] <= running["time"] - 1.0
    assert kinds.count("running") == 1  # the same list is not written again every second
    for name in (SUMMARY_NAME, CURVE_NAME):  # a detail record: the journal only
        assert '"running"' not in (run_dir / name).read_text()

    started = time.monotonic()
    await make(rose_engine, run_dir, 2.5).start(max_iter=2, resume=True)
    assert time.monotonic() - started < 60
    done = [r["iteration"] for r in records(run_dir) if r["type"] == "task" and r["status"] == "done"]
    assert done == [0, 1]  # iteration 0 was reused, not run again: the running record changed nothing


async def test_a_campaign_of_short_tasks_writes_no_running_record(
    rose_plugins: PluginSandbox, rose_engine: Any, tmp_path: Path
) -> None:
    run_dir = tmp_path / "runs" / "short"
    started = time.monotonic()
    await make(rose_engine, run_dir, 0.05).start(max_iter=40)
    assert time.monotonic() - started > 2.0  # long enough for the timer to have looked twice
    assert [r for r in records(run_dir) if r["type"] == "running"] == []


class Patient(Loop):
    """Gives its simulation 2.5 s, then goes on without it (the task is cancelled)."""

    async def evaluate(self, step: Step) -> Outcome:
        try:
            await asyncio.wait_for(step.run("simulation"), 2.5)
        except asyncio.TimeoutError:
            pass
        return Outcome()


async def test_a_listed_task_that_is_cancelled_is_left_out_by_the_next_record(
    rose_plugins: PluginSandbox, rose_engine: Any, tmp_path: Path
) -> None:
    run_dir = tmp_path / "runs" / "cancelled"
    learner = Patient(rose_engine, run_dir=run_dir, name="patient")

    calls: list[int] = []

    @learner.simulation_task(as_executable=False)
    async def simulation(*args: Any, **kwargs: Any) -> int:
        calls.append(1)
        await asyncio.sleep(6 if len(calls) == 1 else 0.7)  # the next ones short: never listed
        return 1

    await learner.start(max_iter=3)  # the next iterations run on after the cancelled task (2.5 s + 1 tick)
    journal = records(run_dir)
    lists = [[t["task"] for t in r["tasks"]] for r in journal if r["type"] == "running"]
    assert lists[0] == ["simulation"] and lists[-1] == [], lists  # cancelled: no longer listed
    assert [r["iteration"] for r in journal if r["type"] == "task"] == [1, 2]  # (no task record ends the first)
    empty = next(r for r in journal if r["type"] == "running" and not r["tasks"])
    stop = next(r for r in journal if r["type"] == "stop")
    assert empty["count"] == 0 and empty["time"] <= stop["time"]


async def test_a_retried_task_is_listed_again_for_its_next_attempt(
    rose_plugins: PluginSandbox, rose_engine: Any, tmp_path: Path
) -> None:
    run_dir = tmp_path / "runs" / "retried"
    learner = Loop(rose_engine, run_dir=run_dir, name="loop")
    calls: list[int] = []

    @learner.simulation_task(as_executable=False, retries=1, retry_backoff=0)
    async def simulation(*args: Any, **kwargs: Any) -> int:
        calls.append(1)
        time.sleep(2.2)
        if len(calls) == 1:
            raise ValueError("the first attempt fails")
        return 1

    await learner.start(max_iter=1)
    kinds = [(r["type"], r.get("status")) for r in records(run_dir) if r["type"] in ("running", "task")]
    assert kinds == [("running", None), ("task", "failed"), ("running", None), ("task", "done")], kinds


async def test_a_record_lists_the_longest_in_flight_and_counts_them_all(tmp_path: Path) -> None:
    journal = Journal(str(tmp_path / "run"))
    journal.open()
    tracked = Flights(journal, learner_id=None)
    total = flights.MAX_LISTED + 50
    spec = SimpleNamespace(name="t", kind="t", retries=0)
    running = []
    for i in range(total):
        # a whole tick of margin past the tick that lists them all: on a loaded machine a tick slips
        task = asyncio.sleep(2 * flights.TICK_SECONDS + flights.LISTED_AFTER + 0.5)
        tracked.add(object(), spec, i, "", task)
        running.append(asyncio.ensure_future(task))
    await asyncio.gather(*running)
    tracked.close()
    journal.close()
    records = [r for r in read_journal(str(tmp_path / "run")) if r["type"] == "running"]
    # the ticks while all ran for over LISTED_AFTER count them all; a tick that comes as they end
    # (late, on a loaded machine) counts fewer, so the last record is not necessarily the one
    complete = [r for r in records if r["count"] == total]
    assert complete, [r["count"] for r in records]
    record = complete[-1]
    assert len(record["tasks"]) == flights.MAX_LISTED
    assert [t["iteration"] for t in record["tasks"]] == list(range(flights.MAX_LISTED))  # the oldest first
