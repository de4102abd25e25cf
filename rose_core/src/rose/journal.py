"""The campaign journal: an append-only JSON-lines record in each learner's directory.

One line per finished task attempt, per finished iteration and per start, resume and stop.
Start, resume, stop and iteration lines are handed to the operating system as they are
written; task lines are written in groups, at the latest :data:`GROUP_COMMIT_SECONDS` after
they were recorded (one system call for many fast tasks). So ``kill -9`` of the campaign loses
at most the task lines of the last 20 ms (those tasks run again on resume) and never a
finished iteration; a power cut may also lose what the kernel had not yet written to disk.
Next to the journal, ``iterations.jsonl`` (:data:`SUMMARY_NAME`) holds its lines without the
task lines and ``curve.jsonl`` (:data:`CURVE_NAME`) the same with each iteration cut down to a
short row: ``rose show`` and ``rose runs`` read the curve. Both are written before the journal.
Results needed by a resume are stored losslessly (:mod:`rose.results`); large ones live in
``results/`` next to the journal. Reading skips damaged lines with a warning, every time.

One campaign holds a directory at a time: :meth:`Journal.open` takes an exclusive lock
(``.rose.lock``) and a second campaign or resume on the same directory is refused with an
error naming the process that holds it.
"""

from __future__ import annotations

import errno
import gc
import logging
import os
import threading
import time
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import orjson

from rose.errors import JournalError, RoseError, open_file_limit
from rose.state import jsonable

__all__ = [
    "JOURNAL_NAME",
    "LOCK_NAME",
    "CURVE_NAME",
    "SUMMARY_NAME",
    "Journal",
    "ResumePoint",
    "curve_is_current",
    "curve_row",
    "load_resume_point",
    "paused_gc",
    "read_curve",
    "read_journal",
    "read_summary",
]

JOURNAL_NAME = "journal.jsonl"
#: the journal without task and process lines (start, resume, iteration, stop): what ``rose show``
#: and ``rose runs`` read, so a campaign of millions of tasks stays quick to inspect
SUMMARY_NAME = "iterations.jsonl"
#: the summary again, each iteration line cut down to one short JSON array (:func:`curve_row`):
#: ``rose runs`` and ``rose show`` parse a million-task campaign's iterations from it in a blink
CURVE_NAME = "curve.jsonl"
LOCK_NAME = ".rose.lock"
#: record types that stay out of the summary
DETAIL_RECORDS = frozenset({"task", "process"})
#: the longest a task line waits before it is handed to the operating system
GROUP_COMMIT_SECONDS = 0.02
logger = logging.getLogger(__name__)


class Journal:
    """Appends records to ``<run_dir>/journal.jsonl`` under the directory's lock.

    A write that fails (disk full, permissions) raises :class:`~rose.errors.JournalError`:
    the campaign stops with that error instead of running on unrecorded.

    ``child=True`` is the journal of one learner of a parallel campaign, in a directory
    inside the parent's: the parent's lock covers it, and it keeps its summary and curve
    open only while the children of the process hold less than a quarter of its open-file
    limit (:class:`_OpenFiles`); past that they are opened for each record (20 us instead of
    2 us). So 10,000 learners fit a limit of 20,000 open files, where four files each did not.
    """

    def __init__(self, run_dir: str, *, child: bool = False) -> None:
        self.run_dir = run_dir
        self.child = child
        self.summary_path = os.path.join(run_dir, SUMMARY_NAME)
        self.curve_path = os.path.join(run_dir, CURVE_NAME)
        self.path = os.path.join(run_dir, JOURNAL_NAME)
        self._lock = threading.Lock()
        self._file: Any = None
        self._summary: Any = None
        self._curve: Any = None
        self._lock_file: Any = None
        self._kept = 0  # files a child keeps open beyond its journal (counted in _OpenFiles)
        self._flush_due: _GroupCommit | None = None  # the group commit that will hand our lines to the OS
        self._seconds: dict[tuple[Any, Any], float] = {}  # task seconds per (learner, iteration), for the summary

    def open(self) -> None:
        """Lock the directory, then open the journal for appending.

        A last line cut off by a crash is removed first (that record never completed).
        Raises :class:`~rose.errors.JournalError` naming the path when the journal cannot be
        written, and :class:`~rose.errors.RoseError` naming the holder when another campaign
        has the directory.
        """
        try:
            os.makedirs(self.run_dir, exist_ok=True)
            if not self.child:
                self._take_lock()
            for path in (self.path, self.summary_path, self.curve_path):
                _drop_partial_last_line(path)
            self._file = open(self.path, "a", encoding="utf-8")
            # a campaign of an older ROSE being resumed: derive what it did not write
            if not os.path.isfile(self.summary_path):
                _derive(self.path, self.summary_path, rows=False)
            if not os.path.isfile(self.curve_path):
                _derive(self.summary_path if os.path.isfile(self.summary_path) else self.path, self.curve_path,
                        rows=True)
            if not self.child or _OpenFiles.take(2):  # else opened for each record: one file per learner
                self._kept = 2 if self.child else 0
                self._summary = open(self.summary_path, "a", encoding="utf-8")
                self._curve = open(self.curve_path, "a", encoding="utf-8")
        except OSError as exc:
            self.close()
            raise JournalError(self.path, exc) from exc

    def _take_lock(self) -> None:
        import fcntl

        path = os.path.join(self.run_dir, LOCK_NAME)
        handle = open(path, "a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            if exc.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            raise RoseError(
                f"campaign directory {self.run_dir} is in use by {holder}: one campaign (or resume) runs in "
                f"a directory at a time. Wait for it to end, stop it, or use another directory."
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"process {os.getpid()} on {os.uname().nodename}\n")
        handle.flush()
        self._lock_file = handle

    def _release_lock(self) -> None:
        if self._lock_file is not None:
            try:
                self._lock_file.close()  # closing releases the flock
            except OSError:  # pragma: no cover
                pass
            self._lock_file = None

    def write(self, record_type: str, /, *, grouped: bool = False, **fields: Any) -> None:
        """Append one record ``{"type": record_type, "time": ..., **fields}``.

        It reaches the operating system at once, or with ``grouped=True`` (task lines) within
        :data:`GROUP_COMMIT_SECONDS`, together with the other lines written meanwhile.
        """
        if self._file is None:
            return
        if record_type == "task":
            key = (fields.get("learner_id"), fields.get("iteration"))
            self._seconds[key] = self._seconds.get(key, 0.0) + float(fields.get("seconds") or 0.0)
        elif record_type == "iteration" and "task_seconds" not in fields:
            state = fields.get("state") or {}
            key = (fields.get("learner_id"), state.get("iteration"))
            fields["task_seconds"] = round(self._seconds.pop(key, 0.0), 6)  # rose show reads it from the summary
        record = {"type": record_type, "time": time.time(), **fields}
        line = _dumps(record) + "\n"
        with self._lock:
            try:
                if record_type not in DETAIL_RECORDS:
                    # the curve and summary first, the journal last: a kill in between leaves at most
                    # an iteration there that the resume runs again (their readers keep the last one)
                    self._append(self._curve, self.curve_path,
                                 _dumps(curve_row(record)) + "\n" if record_type == "iteration" else line)
                    self._append(self._summary, self.summary_path, line)
                self._file.write(line)
                if not grouped or not self._flush_later():
                    self._flush_now()
            except OSError as exc:
                raise JournalError(self.path, exc) from exc

    @staticmethod
    def _append(handle: Any, path: str, line: str) -> None:
        """Hand ``line`` to the OS through the open ``handle``, or (a child) open ``path`` for it."""
        if handle is not None:
            handle.write(line)
            handle.flush()
        else:
            with open(path, "a", encoding="utf-8") as opened:
                opened.write(line)

    def _flush_later(self) -> bool:
        """Arrange a flush within GROUP_COMMIT_SECONDS on this thread's event loop (False: none runs)."""
        if self._flush_due is not None:
            return True
        import asyncio

        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False
        self._flush_due = _GroupCommit.of(loop)
        self._flush_due.add(self)
        return True

    def _flush_now(self) -> None:
        if self._flush_due is not None:
            self._flush_due.discard(self)
            self._flush_due = None
        self._file.flush()

    def _timed_flush(self) -> None:
        with self._lock:
            self._flush_due = None
            if self._file is not None:
                try:
                    self._file.flush()
                except OSError as exc:
                    logger.error("%s", JournalError(self.path, exc))

    def close(self) -> None:
        """Flush and close the journal, then release the directory."""
        if self._flush_due is not None:
            self._flush_due.discard(self)
            self._flush_due = None
        for handle in (self._file, self._summary, self._curve):
            if handle is not None:
                try:
                    handle.close()
                except OSError as exc:
                    logger.error("could not flush the journal %s at the end: %s", self.path, exc)
        self._file = self._summary = self._curve = None
        _OpenFiles.give_back(self._kept)
        self._kept = 0
        self._release_lock()


class _OpenFiles:
    """How many files the children's journals of this process keep open beyond their journal
    files, within a budget of a quarter of the process's open-file limit (``ulimit -n``)."""

    held = 0
    _budget: int | None = None
    _lock = threading.Lock()

    @classmethod
    def take(cls, count: int) -> bool:
        """Reserve ``count`` files if the budget allows (True), else nothing (False)."""
        with cls._lock:
            if cls._budget is None:
                cls._budget = open_file_limit() // 4
            if cls.held + count > cls._budget:
                return False
            cls.held += count
            return True

    @classmethod
    def give_back(cls, count: int) -> None:
        """Release ``count`` files reserved with :meth:`take`."""
        if count:
            with cls._lock:
                cls.held -= count


class _GroupCommit:
    """One timer per event loop that flushes the grouped lines of every journal waiting.

    The first grouped line of any journal starts it; :data:`GROUP_COMMIT_SECONDS` later,
    every journal with lines waiting is flushed. With hundreds of learners (one journal
    each) that is one timer per interval instead of one per line (benchmarks/, scenario 3).
    """

    _per_loop: weakref.WeakKeyDictionary[Any, _GroupCommit] = weakref.WeakKeyDictionary()

    def __init__(self, loop: Any) -> None:
        self._loop = loop
        self._waiting: dict[Journal, None] = {}
        self._timer: Any = None

    @classmethod
    def of(cls, loop: Any) -> _GroupCommit:
        """The group commit of ``loop`` (created on first use)."""
        group = cls._per_loop.get(loop)
        if group is None:
            group = cls._per_loop[loop] = cls(loop)
        return group

    def add(self, journal: Journal) -> None:
        """Flush ``journal`` with the next group (at most GROUP_COMMIT_SECONDS from now)."""
        self._waiting[journal] = None
        if self._timer is None:
            self._timer = self._loop.call_later(GROUP_COMMIT_SECONDS, self._flush)

    def discard(self, journal: Journal) -> None:
        """``journal`` flushed itself (or closed): leave it out of the next group."""
        self._waiting.pop(journal, None)

    def _flush(self) -> None:
        self._timer = None
        waiting, self._waiting = self._waiting, {}
        for journal in waiting:
            journal._timed_flush()


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


#: how many bytes :func:`read_journal` parses at a time
READ_BLOCK = 1 << 18  # small enough for the records of a block to stay in the CPU cache: 2x faster than 4 MB


def _parse_lines(lines: list[bytes], number: int, path: str, rows: bool) -> list[Any]:
    """The records of ``lines`` (``number`` lines of the file come before them), with
    ``rows`` also the arrays.

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
                record = _damaged(line, number, path)
                if record is None:
                    continue
            if type(record) is dict or (rows and type(record) is list):
                append(record)
            else:
                logger.warning("skipping line %d of %s: not a journal record", number, path)
    return records


def _damaged(line: bytes, number: int, path: str) -> Any:
    """A line orjson refused: blank (skipped quietly), not UTF-8 (parsed with the bad bytes
    replaced) or damaged (skipped with a warning); None when skipped."""
    if not line.strip():
        return None
    try:
        return orjson.loads(line.decode("utf-8", errors="replace"))
    except orjson.JSONDecodeError as again:
        logger.warning("skipping damaged line %d of %s (%s)", number, path, again)
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


def _derive(source: str, target: str, rows: bool) -> None:
    """Write the summary (or with ``rows`` the curve) of a journal or summary ``source`` that
    an older ROSE wrote without it; nothing when ``source`` is empty."""
    if not os.path.getsize(source):
        return
    seconds: dict[tuple[Any, Any], float] = {}  # as Journal.write adds them up
    with open(target + ".tmp", "w", encoding="utf-8") as handle, paused_gc():
        for record in read_journal(source):
            kind = record.get("type")
            if kind == "task":
                key = (record.get("learner_id"), record.get("iteration"))
                seconds[key] = seconds.get(key, 0.0) + float(record.get("seconds") or 0.0)
            elif kind == "iteration" and "task_seconds" not in record:
                state = record.get("state") or {}
                key = (record.get("learner_id"), state.get("iteration"))
                record["task_seconds"] = round(seconds.pop(key, 0.0), 6)
            if kind not in DETAIL_RECORDS:
                handle.write(_dumps(curve_row(record) if rows and kind == "iteration" else record) + "\n")
    os.replace(target + ".tmp", target)


def _dumps(record: Any) -> str:
    """One JSON line (orjson; :func:`jsonable` for what it does not know: sets, objects...)."""
    try:
        return orjson.dumps(record, default=jsonable, option=_OPTIONS).decode()
    except (TypeError, orjson.JSONEncodeError):  # keys that are not strings or numbers (tuples...)
        return orjson.dumps(jsonable(record), option=_OPTIONS).decode()


_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def _drop_partial_last_line(path: str) -> None:
    if not os.path.isfile(path):
        return
    with open(path, "rb+") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        if size == 0:
            return
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return
        # read backwards only as far as the last newline: journals can be large
        step, position = 1 << 16, size
        while position > 0:
            start = max(0, position - step)
            handle.seek(start)
            chunk = handle.read(position - start)
            cut = chunk.rfind(b"\n")
            if cut >= 0:
                keep = start + cut + 1
                break
            position = start
        else:
            keep = 0
        logger.warning("removing the incomplete last record of %s (%d bytes cut off by a crash)", path, size - keep)
        handle.truncate(keep)


class ResumePoint:
    """What the campaign loop needs to continue a learner's campaign from its journal.

    ``states`` are the finished iterations (as dicts, in order), ``next_iteration`` the first
    one to run, ``carries`` the stored hand-over of each finished iteration to the next,
    ``learner_type`` the learner class that wrote the journal, ``stop_reason`` how the last
    run ended (None when it was killed), ``processes`` the task processes started by the last
    run that never reported back (to end before anything runs again).
    """

    def __init__(self, run_dir: str, records: Iterable[dict[str, Any]]) -> None:
        self.run_dir = run_dir
        self.learner_type: str | None = None
        self.max_iter: int | None = None
        self.states: list[dict[str, Any]] = []
        self.carries: dict[int, Any] = {}
        self.stop_reason: str | None = None
        # per (iteration, task, key): the recorded results in order, and how many were taken
        self._results: dict[tuple[Any, str, str], list[Any]] = {}
        self._taken: dict[tuple[Any, str, str], int] = {}
        results = self._results
        spawned: dict[tuple[Any, str, str], dict[str, Any]] = {}
        for record in records:
            kind = record.get("type")
            if kind == "task":
                key = (record.get("iteration"), str(record.get("task")), str(record.get("key", "")))
                if "result" in record and record.get("status") == "done":
                    stored = results.get(key)
                    if stored is None:
                        results[key] = [record["result"]]
                    else:
                        stored.append(record["result"])
                if spawned:
                    spawned.pop(key, None)
            elif kind == "process":
                key = (record.get("iteration"), str(record.get("task")), str(record.get("key", "")))
                spawned[key] = record
            elif kind == "iteration":
                state = record.get("state") or {}
                self.states.append(state)
                if "carry" in record:
                    self.carries[int(state.get("iteration", len(self.states) - 1))] = record["carry"]
            elif kind == "start":
                manifest = record.get("manifest") or {}
                self.learner_type = self.learner_type or manifest.get("learner_type")
                self.max_iter = manifest.get("max_iter", self.max_iter)
                self.stop_reason = None
            elif kind == "resume":
                self.stop_reason = None
            elif kind == "stop":
                self.stop_reason = record.get("reason")
        self.processes = list(spawned.values())
        self.next_iteration = (int(self.states[-1]["iteration"]) + 1) if self.states else 0

    def take_result(self, iteration: Any, task: str, key: str) -> tuple[bool, Any]:
        """``(True, stored result)`` of the next recorded run of ``task`` with ``key`` at ``iteration``."""
        where = (iteration, task, key)
        stored = self._results.get(where)
        taken = self._taken.get(where, 0)
        if stored is None or taken >= len(stored):
            return False, None
        result, stored[taken] = stored[taken], None  # handed over once: let it go
        self._taken[where] = taken + 1
        return True, result

    @property
    def finished(self) -> bool:
        """True when the campaign met its criterion: there is nothing left to do."""
        return self.stop_reason == "criterion_met"


def load_resume_point(run_dir: str) -> ResumePoint:
    """Read ``run_dir``'s journal (raises FileNotFoundError naming it)."""
    path = os.path.join(run_dir, JOURNAL_NAME)
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"cannot resume: no journal at {path}. Pass the campaign directory printed when it "
            f"started (see `rose runs`)."
        )
    with paused_gc():  # a million records, no cycles among them: see paused_gc
        return ResumePoint(run_dir, read_journal(path))


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
