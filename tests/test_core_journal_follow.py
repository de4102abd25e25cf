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
