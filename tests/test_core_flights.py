"""The ``running`` record (:mod:`rose.flights`): what shows a function task while it runs.

A task is journaled when it ends; a task in flight for a second or more is also listed in a
``running`` record while it runs (at most once a second, only when the list changes), so
``rose ui`` can show it. Short tasks write none; resuming ignores the record.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
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


async def test_a_listed_task_that_is_cancelled_is_left_out_by_the_next_record(tmp_path: Path) -> None:
    journal = Journal(str(tmp_path / "run"))
    journal.open()
    tracked = Flights(journal, learner_id=3)
    slow = asyncio.ensure_future(tracked.run(asyncio.sleep(30), "simulation", "simulation", 0, "k0"))
    other = asyncio.ensure_future(tracked.run(asyncio.sleep(4), "training", "training", 0, "k1"))
    await asyncio.sleep(flights.TICK_SECONDS + flights.LISTED_AFTER + 0.3)
    slow.cancel()  # no task record will end it
    await asyncio.sleep(flights.TICK_SECONDS + 0.3)
    await other
    tracked.close()
    journal.close()
    lists = [[t["task"] for t in r["tasks"]] for r in read_journal(str(tmp_path / "run")) if r["type"] == "running"]
    assert lists[0] == ["simulation", "training"] and lists[-1] == ["training"]
    assert all(r["learner_id"] == 3 for r in read_journal(str(tmp_path / "run")) if r["type"] == "running")


async def test_a_record_lists_the_longest_in_flight_and_counts_them_all(tmp_path: Path) -> None:
    journal = Journal(str(tmp_path / "run"))
    journal.open()
    tracked = Flights(journal, learner_id=None)
    total = flights.MAX_LISTED + 50
    await asyncio.gather(*(tracked.run(asyncio.sleep(flights.TICK_SECONDS + flights.LISTED_AFTER + 0.5), "t", "t", i, "")
                           for i in range(total)))
    tracked.close()
    journal.close()
    (record,) = [r for r in read_journal(str(tmp_path / "run")) if r["type"] == "running"]
    assert record["count"] == total and len(record["tasks"]) == flights.MAX_LISTED
    assert [t["iteration"] for t in record["tasks"]] == list(range(flights.MAX_LISTED))  # the oldest first
