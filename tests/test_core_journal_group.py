"""Group commit: task lines reach the operating system together, within GROUP_COMMIT_SECONDS,
for every journal of a process (one per learner), and at once when a record is not grouped."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from rose.journal import GROUP_COMMIT_SECONDS, Journal, read_journal


def on_disk(run_dir: Path) -> list[str]:
    """The record types another process would read now."""
    return [record["type"] for record in read_journal(str(run_dir))]


async def test_grouped_lines_of_many_journals_reach_the_file_within_the_window(tmp_path: Path) -> None:
    journals = [Journal(str(tmp_path / f"learner-{n}")) for n in range(50)]
    for journal in journals:
        journal.open()
    written = time.monotonic()
    for journal in journals:
        journal.write("task", grouped=True, iteration=0, task="simulation", status="done", seconds=0.0)
    deadline = written + GROUP_COMMIT_SECONDS + 1.0  # the window, plus room for a busy machine
    while time.monotonic() < deadline and not all(on_disk(tmp_path / f"learner-{n}") == ["task"] for n in range(50)):
        await asyncio.sleep(GROUP_COMMIT_SECONDS / 4)
    assert all(on_disk(tmp_path / f"learner-{n}") == ["task"] for n in range(50))
    for journal in journals:
        journal.close()


async def test_a_record_that_is_not_grouped_takes_the_waiting_lines_with_it(tmp_path: Path) -> None:
    journal = Journal(str(tmp_path))
    journal.open()
    journal.write("task", grouped=True, iteration=0, task="simulation", status="done", seconds=0.0)
    journal.write("iteration", state={"iteration": 0})
    assert on_disk(tmp_path) == ["task", "iteration"]  # no waiting: both are there at once
    journal.write("task", grouped=True, iteration=1, task="simulation", status="done", seconds=0.0)
    journal.close()
    assert on_disk(tmp_path) == ["task", "iteration", "task"]  # closing flushes what waits
    await asyncio.sleep(2 * GROUP_COMMIT_SECONDS)  # the group's timer finds the closed journal: no error


def test_without_an_event_loop_every_line_is_written_at_once(tmp_path: Path) -> None:
    journal = Journal(str(tmp_path))
    journal.open()
    journal.write("task", grouped=True, iteration=0, task="simulation", status="done", seconds=0.0)
    assert on_disk(tmp_path) == ["task"]
    journal.close()
