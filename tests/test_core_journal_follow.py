"""rose.journal.read_new: reading only what was appended to a journal, complete lines only."""

from __future__ import annotations

import logging

from rose.journal import CURVE_NAME, JOURNAL_NAME, Journal, read_new


def test_read_new_returns_only_appended_complete_lines(tmp_path, caplog) -> None:
    journal = Journal(str(tmp_path))
    journal.open()
    journal.write("start", learner_id=None, manifest={})
    path = str(tmp_path / JOURNAL_NAME)
    records, offset, lines, skipped = read_new(path)
    assert [r["type"] for r in records] == ["start"] and lines == 1 and skipped == 0
    assert read_new(path, offset) == ([], offset, 0, 0)
    with open(path, "a") as handle:  # a damaged line, then a line still being written
        handle.write('{"type": "task", "broken\n{"type":"stop","time":1')
    with caplog.at_level(logging.WARNING):
        records, after, lines, skipped = read_new(path, offset, line=1)
    assert records == [] and lines == 1 and skipped == 1
    assert "skipping damaged line 2" in caplog.text
    with open(path, "a") as handle:
        handle.write(',"reason":"max_iter_reached"}\n')
    records, end, lines, skipped = read_new(path, after, line=2)
    assert [r["type"] for r in records] == ["stop"] and skipped == 0
    journal.close()


def test_read_new_reads_curve_rows_and_a_missing_file_as_nothing(tmp_path) -> None:
    journal = Journal(str(tmp_path))
    journal.open()
    journal.write("iteration", learner_id=0, state={"iteration": 0, "metric_value": 0.5})
    records, *_ = read_new(str(tmp_path / CURVE_NAME), rows=True)
    assert isinstance(records[0], list) and records[0][5] == 0.5
    assert read_new(str(tmp_path / "nothing.jsonl"), 7) == ([], 7, 0, 0)
    journal.close()


def test_a_damaged_line_is_named_by_its_line_in_the_file_wherever_the_reading_started(tmp_path, caplog) -> None:
    journal = Journal(str(tmp_path))
    journal.open()
    journal.write("start", learner_id=None, manifest={})
    for i in range(5):
        journal.write("task", learner_id=None, iteration=i, task="t", key="", status="done", seconds=0.1)
        journal.write("iteration", learner_id=None, state={"iteration": i})
    journal.close()
    path = str(tmp_path / JOURNAL_NAME)
    with open(path, "rb") as handle:
        middle = sum(len(line) for line in handle.readlines()[:6])  # lines 1-6 before it
    with open(path, "a") as handle:
        handle.write('{"type":"task","broken\n')  # line 12
    with caplog.at_level(logging.WARNING):
        records, _, lines, skipped = read_new(path, middle, line=None, types=("task",))
    assert [r["iteration"] for r in records] == [3, 4] and lines == 6 and skipped == 1
    assert "skipping damaged line 12 " in caplog.text  # not 3 (the kept lines) nor 6 (from the offset)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        read_new(path, 0, types=("task",))
    assert "skipping damaged line 12 " in caplog.text
