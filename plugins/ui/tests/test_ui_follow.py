"""Reaching into a long journal without reading it whole: backwards from the end, and by time."""

from __future__ import annotations

import os
import random

import orjson
from rose_plugin_ui import follow

from rose.journal import Journal


def _journal(tmp_path) -> tuple[str, list[tuple[int, str, float]]]:
    """A journal of 2,000 records of varied length (a third are iterations); each line's
    (offset, type, time)."""
    run_dir = str(tmp_path / "run")
    journal = Journal(run_dir)
    journal.open()
    pick = random.Random(7)
    for number in range(2000):
        if number % 3:
            journal.write("task", learner_id=None, iteration=number, key="k" * pick.randint(0, 300), task="simulation",
                          kind="simulation", attempt=1, status="done", seconds=0.01)
        else:
            journal.write("iteration", learner_id=None, state={"iteration": number, "metric_value": 0.5,
                                                                "learner_id": None, "note": "n" * pick.randint(0, 300)})
    journal.close()
    path = os.path.join(run_dir, "journal.jsonl")
    lines, offset = [], 0
    with open(path, "rb") as handle:
        for line in handle:
            record = orjson.loads(line)
            lines.append((offset, record["type"], record["time"]))
            offset += len(line)
    return path, lines


def test_the_latest_records_of_a_type_are_found_reading_backwards(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(follow, "BLOCK", 64)  # many blocks, lines cut across them
    path, lines = _journal(tmp_path)
    tasks = [offset for offset, kind, _ in lines if kind == "task"]
    for wanted in (1, 2, 5, 100, len(tasks)):
        assert follow.tail_start(path, wanted, ("task",)) == tasks[-wanted]
    assert follow.tail_start(path, len(tasks) + 1, ("task",)) == 0
    middle = lines[1000][0]
    before = [offset for offset, kind, _ in lines if kind == "task" and offset < middle]
    assert follow.tail_start(path, 10, ("task",), end=middle) == before[-10]
    assert follow.tail_start(str(tmp_path / "none.jsonl"), 10, ("task",)) == 0


def test_the_records_of_a_moment_are_found_by_bisecting_the_file(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(follow, "BLOCK", 256)
    path, lines = _journal(tmp_path)
    starts = {offset for offset, _, _ in lines}
    size = os.path.getsize(path)
    for index in (0, 1, 500, 1234, 1999):
        moment = lines[index][2]
        offset = follow.offset_at(path, moment)
        assert offset in starts
        first = next(start for start, _, stamped in lines if stamped >= moment)
        assert offset <= first  # nothing at or after the moment is skipped
        skipped = [start for start, _, stamped in lines if offset <= start < first]
        assert len(skipped) < 20  # and little before it is read
    assert follow.offset_at(path, lines[-1][2] + 60) <= size
    assert follow.offset_at(path, 0.0) == 0
