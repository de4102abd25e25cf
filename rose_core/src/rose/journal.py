"""The campaign journal: an append-only JSON-lines record in each learner's directory.

One line per finished task attempt, per finished iteration and per start, resume and stop
(and, while tasks are in flight for a second or more, a ``running`` line listing them at most
once a second: :mod:`rose.flights`).
Start, resume, stop and iteration lines are handed to the operating system as they are
written; task lines are written in groups, at the latest :data:`GROUP_COMMIT_SECONDS` after
they were recorded (one system call for many fast tasks). So ``kill -9`` of the campaign loses
at most the task lines of the last 20 ms (those tasks run again on resume) and never a
finished iteration; a power cut may also lose what the kernel had not yet written to disk.
Next to the journal, ``iterations.jsonl`` (:data:`SUMMARY_NAME`) holds its lines without the
task lines and ``curve.jsonl`` (:data:`CURVE_NAME`) the same with each iteration cut down to a
short row: ``rose show`` and ``rose runs`` read the curve. Both are written before the journal.
Results needed by a resume are stored losslessly (:mod:`rose.results`); large ones live in
``results/`` next to the journal, once each: an iteration line names the files of its large
state values (the task results that reported them) instead of repeating them, holds each
state value once (under ``state``; numbers and short strings are also copied to the top,
where ``rose show`` reads them: :func:`rose.results.compact_state`) and its summary line leaves
out the hand-over to the next iteration (``carry``, which only a resume reads, from the
journal). Reading skips damaged lines with a warning, every time.

One campaign holds a directory at a time: :meth:`Journal.open` takes an exclusive lock
(``.rose.lock``) and a second campaign or resume on the same directory is refused with an
error naming the process that holds it.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
import weakref
from typing import Any

from rose import private, results
from rose.errors import JournalError, RoseError, open_file_limit
from rose.journal_read import (
    CURVE_FIELDS,
    CURVE_NAME,
    DETAIL_RECORDS,
    JOURNAL_NAME,
    LOCK_NAME,
    SUMMARY_NAME,
    curve_is_current,
    curve_row,
    dumps,
    dumps_line,
    paused_gc,
    read_curve,
    read_journal,
    read_new,
    read_summary,
)
from rose.resume import ResumePoint, load_resume_point

__all__ = [
    "CURVE_FIELDS",
    "CURVE_NAME",
    "GROUP_COMMIT_SECONDS",
    "JOURNAL_NAME",
    "LOCK_NAME",
    "SUMMARY_NAME",
    "Journal",
    "ResumePoint",
    "curve_is_current",
    "curve_row",
    "load_resume_point",
    "paused_gc",
    "read_curve",
    "read_journal",
    "read_new",
    "read_summary",
]

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
        self._group: _GroupCommit | None = None  # the group commit of the loop the journal was last written on
        self._seconds: dict[tuple[Any, Any], float] = {}  # task seconds per (learner, iteration), for the summary

    def open(self) -> None:
        """Lock the directory, then open the journal for appending.

        A last line cut off by a crash is removed first (that record never completed).
        Raises :class:`~rose.errors.JournalError` naming the path when the journal cannot be
        written, and :class:`~rose.errors.RoseError` naming the holder when another campaign
        has the directory.
        """
        try:
            if not os.path.isdir(self.run_dir):
                private.make_dirs(self.run_dir)
            if not self.child:
                self._take_lock()
            # one listing instead of a stat per file: a new campaign's directory has none of them
            present = set(os.listdir(self.run_dir))
            for path in (self.path, self.summary_path, self.curve_path):
                if os.path.basename(path) in present:
                    _drop_partial_last_line(path)
            self._file = open(self.path, "ab", opener=private.opener())  # bytes: lines are UTF-8 from orjson
            # a campaign of an older ROSE being resumed: derive what it did not write
            if JOURNAL_NAME in present and SUMMARY_NAME not in present:
                _derive(self.path, self.summary_path, rows=False)
            if JOURNAL_NAME in present and CURVE_NAME not in present:
                _derive(self.summary_path if os.path.isfile(self.summary_path) else self.path, self.curve_path,
                        rows=True)
            if not self.child or _OpenFiles.take(2):  # else opened for each record: one file per learner
                self._kept = 2 if self.child else 0
                self._summary = open(self.summary_path, "ab", opener=private.opener())
                self._curve = open(self.curve_path, "ab", opener=private.opener())
        except OSError as exc:
            self.close()
            raise JournalError(self.path, exc) from exc

    def _take_lock(self) -> None:
        import fcntl

        path = os.path.join(self.run_dir, LOCK_NAME)
        handle = open(path, "a+", encoding="utf-8", opener=private.opener())
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

    @property
    def locked(self) -> bool:
        """True while this journal holds its directory's lock (a child's never does: its parent's covers it)."""
        return self._lock_file is not None

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
        if record_type in DETAIL_RECORDS:
            self._write_detail(record_type, grouped, fields)
            return
        if record_type == "iteration" and "task_seconds" not in fields:
            state = fields.get("state") or {}
            key = (fields.get("learner_id"), state.get("iteration"))
            fields["task_seconds"] = round(self._seconds.pop(key, 0.0), 6)  # rose show reads it from the summary
        if record_type == "iteration" and isinstance(fields.get("state"), dict):
            fields["state"] = results.compact_state(fields["state"], self.run_dir)
        elif record_type == "stop" and isinstance(fields.get("final"), dict):
            fields["final"] = results.compact_state(fields["final"], self.run_dir)
        record = {"type": record_type, "time": time.time(), **fields}
        line = dumps_line(record)
        summary = line
        if record_type == "iteration" and "carry" in record:
            summary = dumps_line({k: v for k, v in record.items() if k != "carry"})
        with self._lock:
            try:
                # the curve and summary first, the journal last: a kill in between leaves at most
                # an iteration there that the resume runs again (their readers keep the last one)
                self._append(self._curve, self.curve_path,
                             dumps_line(curve_row(record)) if record_type == "iteration" else line)
                self._append(self._summary, self.summary_path, summary)
                self._file.write(line)
                if not grouped or not self._flush_later():
                    self._flush_now()
            except OSError as exc:
                raise JournalError(self.path, exc) from exc

    def write_task(self, learner_id: Any, iteration: Any, key: str, entry: dict[str, Any]) -> None:
        """Append one task line, grouped: what ``write("task", grouped=True, learner_id=...,
        iteration=..., key=..., **entry)`` writes, without packing the fields into keyword
        arguments twice on the way (it runs for every task)."""
        if self._file is None:
            return
        self._add_seconds(learner_id, iteration, entry.get("seconds"))
        self._write_line(dumps_line({"type": "task", "time": time.time(), "learner_id": learner_id,
                                     "iteration": iteration, "key": key, **entry}), grouped=True)

    def _write_detail(self, record_type: str, grouped: bool, fields: dict[str, Any]) -> None:
        """A task or process line: the journal only (the one line written for every task)."""
        if record_type == "task":
            self._add_seconds(fields.get("learner_id"), fields.get("iteration"), fields.get("seconds"))
        self._write_line(dumps_line({"type": record_type, "time": time.time(), **fields}), grouped)

    def _add_seconds(self, learner_id: Any, iteration: Any, seconds: Any) -> None:
        """Add a task's seconds to its iteration's total (the iteration line's ``task_seconds``)."""
        where = (learner_id, iteration)
        self._seconds[where] = self._seconds.get(where, 0.0) + float(seconds or 0.0)

    def _write_line(self, line: bytes, grouped: bool) -> None:
        """Write a journal-only line; it reaches the OS at once, or with the next group when ``grouped``."""
        with self._lock:
            try:
                self._file.write(line)
                if not grouped or (self._flush_due is None and not self._flush_later()):
                    self._flush_now()
            except OSError as exc:
                raise JournalError(self.path, exc) from exc

    @staticmethod
    def _append(handle: Any, path: str, line: bytes) -> None:
        """Hand ``line`` to the OS through the open ``handle``, or (a child) open ``path`` for it."""
        if handle is not None:
            handle.write(line)
            handle.flush()
        else:
            with open(path, "ab", opener=private.opener()) as opened:
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
        group = self._group
        if group is None or group.loop is not loop:  # the same loop all campaign long: looked up once
            group = self._group = _GroupCommit.of(loop)
        self._flush_due = group
        group.add(self)
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
        self.loop = loop
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
            self._timer = self.loop.call_later(GROUP_COMMIT_SECONDS, self._flush)

    def discard(self, journal: Journal) -> None:
        """``journal`` flushed itself (or closed): leave it out of the next group."""
        self._waiting.pop(journal, None)

    def _flush(self) -> None:
        self._timer = None
        waiting, self._waiting = self._waiting, {}
        for journal in waiting:
            journal._timed_flush()


def _derive(source: str, target: str, rows: bool) -> None:
    """Write the summary (or with ``rows`` the curve) of a journal or summary ``source`` that
    an older ROSE wrote without it; nothing when ``source`` is empty."""
    if not os.path.getsize(source):
        return
    seconds: dict[tuple[Any, Any], float] = {}  # as Journal.write adds them up
    with open(target + ".tmp", "w", encoding="utf-8", opener=private.opener()) as handle, paused_gc():
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
                handle.write(dumps(curve_row(record) if rows and kind == "iteration" else record) + "\n")
    os.replace(target + ".tmp", target)


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


