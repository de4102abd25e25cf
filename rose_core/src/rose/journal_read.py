"""Reading a campaign's journal files: the journal, its summary and its curve (names and rows).

The writer is :class:`rose.journal.Journal`; this module only reads (and defines the file
names and the one JSON-line encoding both sides use). Reading skips damaged lines with a
warning, every time.
"""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import orjson

from rose.state import jsonable

__all__ = [
    "CURVE_FIELDS", "CURVE_NAME", "DETAIL_RECORDS", "JOURNAL_NAME", "LOCK_NAME", "SUMMARY_NAME", "curve_is_current",
    "curve_row", "dumps", "dumps_line", "paused_gc", "read_curve", "read_journal", "read_new", "read_summary",
]

logger = logging.getLogger("rose.journal")

JOURNAL_NAME = "journal.jsonl"
#: the journal without task and process lines (start, resume, iteration, stop): what ``rose show``
#: and ``rose runs`` read, so a campaign of millions of tasks stays quick to inspect
SUMMARY_NAME = "iterations.jsonl"
#: the summary again, each iteration line cut down to one short JSON array (:func:`curve_row`):
#: ``rose runs`` and ``rose show`` parse a million-task campaign's iterations from it in a blink
CURVE_NAME = "curve.jsonl"
LOCK_NAME = ".rose.lock"
#: record types that stay out of the summary (``running``: the long tasks in flight, :mod:`rose.flights`)
DETAIL_RECORDS = frozenset({"task", "process", "running"})

def read_journal(path: str) -> Iterator[dict[str, Any]]:
    """Yield the records of a journal (a run directory or the file itself).

    A damaged line (cut off, or garbage) is skipped with a warning naming it, wherever it is.
    The file is read in blocks of :data:`READ_BLOCK` bytes, each parsed in one go.
    """
    if os.path.isdir(path):
        path = os.path.join(path, JOURNAL_NAME)
    yield from _read_lines(path, rows=False)


def _read_lines(path: str, rows: bool) -> Iterator[Any]:
    """The JSON lines of ``path``: dicts, and with ``rows`` also arrays (curve rows)."""
    number = 0
    with open(path, "rb") as handle:
        pending: list[bytes] = []  # the start of a line that goes on in the next block(s)
        while True:
            block = handle.read(READ_BLOCK)
            if not block:
                break
            cut = block.rfind(b"\n") + 1
            if cut == 0:  # a line longer than a block: read on
                pending.append(block)
                continue
            if pending:
                pending.append(block[:cut])
                whole = b"".join(pending)
                pending.clear()
            else:
                whole = block[:cut]
            if cut < len(block):
                pending.append(block[cut:])
            lines = whole.split(b"\n")
            lines.pop()  # the empty string after the last newline
            yield from _parse_lines(lines, number, path, rows)
            number += len(lines)
        if pending:
            yield from _parse_lines([b"".join(pending)], number, path, rows)


def read_new(path: str, offset: int = 0, *, line: int | None = 0, rows: bool = False, types: Iterable[str] = (),
             limit: int = 1 << 26) -> tuple[list[Any], int, int, int]:
    """The records of the complete lines of ``path`` after byte ``offset``, for readers that
    follow a journal file while a campaign appends to it (``rose ui``).

    Returns ``(records, next_offset, lines, skipped)``: pass ``next_offset`` and ``line +
    lines`` back on the next call; a line still being written (no newline yet) is left for
    then. ``skipped`` counts damaged lines (each skipped with a warning naming its number, as
    :func:`read_journal` does); ``rows`` also yields curve rows (arrays). At most ``limit``
    bytes are read per call. A missing file reads as nothing new. ``types`` (``("task",
    "process")``) keeps only records of those types, and parses no other line: records are
    written with ``type`` first, so a line is picked by its first bytes. ``line`` is how many
    lines come before ``offset``; None when the caller does not know (it started in the middle of
    the file): they are then counted, once, only if a damaged line has to be named.
    """
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            block = handle.read(limit)
    except FileNotFoundError:
        return [], offset, 0, 0
    cut = block.rfind(b"\n") + 1
    if cut == 0:
        return [], offset, 0, 0
    lines = block[:cut].split(b"\n")
    lines.pop()
    count = len(lines)
    numbers = _LineNumbers(path, offset, line, lines, ())
    if types:
        wanted = tuple(b'{"type":"' + kind.encode() + b'"' for kind in types)
        lines = [each for each in lines if each.startswith(wanted)]
        numbers.wanted = wanted
    records = _parse_lines(lines, 0, path, rows, numbers)
    filled = sum(1 for each in lines if each.strip())
    return records, offset + cut, count, max(0, filled - len(records))


class _LineNumbers:
    """The line number in the file of the k-th line :func:`read_new` parsed (k from 1), worked
    out only when a damaged line is named: the lines before its offset counted when not known,
    and, when it kept only some record types, where the k-th kept line was."""

    def __init__(self, path: str, offset: int, before: int | None, lines: list[bytes], wanted: tuple[bytes, ...]) -> None:
        self.path, self.offset, self.before, self.lines, self.wanted = path, offset, before, lines, wanted

    def __call__(self, kept: int) -> int:
        if self.before is None:
            self.before = lines_before(self.path, self.offset)
        if not self.wanted:
            return self.before + kept
        found = 0
        for number, each in enumerate(self.lines, 1):
            if each.startswith(self.wanted):
                found += 1
                if found == kept:
                    return self.before + number
        return self.before + kept  # pragma: no cover - kept lines come from these lines


_COUNTED: dict[str, tuple[int, int]] = {}  # per file: the last offset whose lines before were counted, and their count


def lines_before(path: str, offset: int) -> int:
    """How many lines of ``path`` end before byte ``offset`` (a line start), counted in blocks
    from the last count of this file that lies before it."""
    start, count = _COUNTED.get(path, (0, 0))
    if start > offset:
        start, count = 0, 0
    try:
        with open(path, "rb") as handle:
            handle.seek(start)
            while start < offset:
                block = handle.read(min(READ_BLOCK * 4, offset - start))
                if not block:
                    break
                count += block.count(b"\n")
                start += len(block)
    except OSError:
        return count
    if len(_COUNTED) > 64:
        _COUNTED.clear()
    _COUNTED[path] = (start, count)
    return count


#: how many bytes :func:`read_journal` parses at a time
READ_BLOCK = 1 << 18  # small enough for the records of a block to stay in the CPU cache: 2x faster than 4 MB


def _parse_lines(lines: list[bytes], number: int, path: str, rows: bool,
                 numbers: Callable[[int], int] | None = None) -> list[Any]:
    """The records of ``lines`` (``number`` lines of the file come before them), with
    ``rows`` also the arrays; ``numbers`` (when given) turns the count of lines parsed into the
    line number a warning names.

    The cyclic garbage collector is paused meanwhile (:func:`paused_gc`).
    """
    records: list[Any] = []
    append, loads = records.append, orjson.loads
    with paused_gc():
        for line in lines:
            number += 1
            try:
                record = loads(line)
            except orjson.JSONDecodeError:
                record = _damaged(line, number, path, numbers)
                if record is None:
                    continue
            if type(record) is dict or (rows and type(record) is list):
                append(record)
            else:
                logger.warning("skipping line %d of %s: not a journal record",
                               numbers(number) if numbers is not None else number, path)
    return records


def _damaged(line: bytes, number: int, path: str, numbers: Callable[[int], int] | None = None) -> Any:
    """A line orjson refused: blank (skipped quietly), not UTF-8 (parsed with the bad bytes
    replaced) or damaged (skipped with a warning); None when skipped."""
    if not line.strip():
        return None
    try:
        return orjson.loads(line.decode("utf-8", errors="replace"))
    except orjson.JSONDecodeError as again:
        logger.warning("skipping damaged line %d of %s (%s)", numbers(number) if numbers is not None else number,
                       path, again)
        return None


def read_summary(path: str) -> Iterator[dict[str, Any]]:
    """The journal's summary (no task lines; iteration lines carry ``task_seconds``) when the
    campaign wrote one, else the whole journal (campaigns of ROSE 0.4)."""
    directory = path if os.path.isdir(path) else os.path.dirname(path)
    summary = os.path.join(directory, SUMMARY_NAME)
    yield from read_journal(summary if os.path.isfile(summary) else directory)


#: the fields of a curve row (:func:`curve_row`), in order
CURVE_FIELDS = ("time", "learner_id", "task_seconds", "iteration", "metric_name", "metric_value",
                "metric_threshold", "should_stop", "labeled_count", "learner_label")


def curve_row(record: dict[str, Any]) -> list[Any]:
    """An iteration record cut down to what ``rose show`` tables and plots (:data:`CURVE_FIELDS`).

    ``learner_id`` is the state's (else the record's), ``learner_label`` the one a task
    reported (in the state or in its ``state`` dict).
    """
    state = record.get("state")
    if not isinstance(state, dict):
        state = {}
    inner = state.get("state")
    label = state.get("learner_label") or (inner.get("learner_label") if isinstance(inner, dict) else None)
    return [record.get("time"), state.get("learner_id", record.get("learner_id")), record.get("task_seconds"),
            state.get("iteration"), state.get("metric_name"), state.get("metric_value"),
            state.get("metric_threshold"), state.get("should_stop"), state.get("labeled_count"), label]


def read_curve(path: str) -> Iterator[dict[str, Any] | list[Any]]:
    """The lines of a run directory's curve (:data:`CURVE_NAME`): the summary's records,
    each iteration as a :func:`curve_row` array. Damaged lines are skipped with a warning."""
    yield from _read_lines(os.path.join(path, CURVE_NAME), rows=True)


def curve_is_current(run_dir: str) -> bool:
    """True when ``run_dir`` has a curve that holds its summary's last record (a campaign of
    an older ROSE that resumed the directory wrote the summary without it: read the summary)."""
    curve = _last_time(os.path.join(run_dir, CURVE_NAME))
    if curve is None:
        return False
    summary = os.path.join(run_dir, SUMMARY_NAME)
    latest = _last_time(summary) if os.path.isfile(summary) else None
    return latest is None or curve >= latest


def _last_time(path: str) -> float | None:
    """The time of the last complete record of a journal file (None: no such file or record)."""
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            step = 1 << 14
            while True:
                start = max(0, size - step)
                handle.seek(start)
                lines = handle.read(size - start).split(b"\n")
                if start > 0:
                    lines.pop(0)  # may be the end of a longer line
                for line in reversed(lines):
                    try:
                        record = orjson.loads(line)
                    except orjson.JSONDecodeError:
                        continue
                    moment = record.get("time") if isinstance(record, dict) else (
                        record[0] if isinstance(record, list) and record else None)
                    return float(moment) if isinstance(moment, (int, float)) else None
                if start == 0:
                    return None
                step *= 4
    except OSError:
        return None


def dumps(record: Any) -> str:
    """One JSON line (orjson; :func:`jsonable` for what it does not know: sets, objects...)."""
    try:
        return orjson.dumps(record, default=jsonable, option=_OPTIONS).decode()
    except (TypeError, orjson.JSONEncodeError):  # keys that are not strings or numbers (tuples...)
        return orjson.dumps(jsonable(record), option=_OPTIONS).decode()


_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
_LINE_OPTIONS = _OPTIONS | orjson.OPT_APPEND_NEWLINE


def dumps_line(record: Any) -> bytes:
    """:func:`dumps` as the UTF-8 bytes of one journal line, newline included (what the
    journal's files are written with: no decoding and encoding again per line)."""
    try:
        return orjson.dumps(record, default=jsonable, option=_LINE_OPTIONS)
    except (TypeError, orjson.JSONEncodeError):  # keys that are not strings or numbers (tuples...)
        return orjson.dumps(jsonable(record), option=_LINE_OPTIONS)



@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a journal is read into objects.

    Journal records are plain dicts and lists without reference cycles (freed by reference
    counting all the same); collecting while hundreds of thousands of them are created
    makes reading a big journal several times slower. Nested pauses are fine.
    """
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()
