"""The campaign journal: an append-only JSON-lines record in the run directory.

One line per finished task attempt and per finished iteration, flushed as it is written,
so a crash, ``kill -9`` or preemption loses nothing that finished. Reading tolerates a
truncated last line (the write that was cut off).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

from rose.state import jsonable

__all__ = ["JOURNAL_NAME", "MAX_RESULT_BYTES", "Journal", "ResumePoint", "load_resume_point", "read_journal"]

JOURNAL_NAME = "journal.jsonl"
#: task results larger than this (as JSON) are not kept in the journal
MAX_RESULT_BYTES = 64 * 1024
logger = logging.getLogger(__name__)


class Journal:
    """Appends records to ``<run_dir>/journal.jsonl``; write errors are reported once."""

    def __init__(self, run_dir: str) -> None:
        self.run_dir = run_dir
        self.path = os.path.join(run_dir, JOURNAL_NAME)
        self._lock = threading.Lock()
        self._file: Any = None
        self._failed = False

    def open(self) -> None:
        """Create the run directory and open the journal for appending.

        A last line cut off by a crash (no final newline) is removed first: that record
        was never complete. Raises RoseError naming the path when the journal cannot be
        written, so nothing runs that could not be recorded.
        """
        from rose.errors import RoseError

        try:
            os.makedirs(self.run_dir, exist_ok=True)
            _drop_partial_last_line(self.path)
            self._file = open(self.path, "a", encoding="utf-8")
        except OSError as exc:
            raise RoseError(
                f"cannot write the campaign journal {self.path}: {exc.strerror or exc}. Choose a writable "
                f"directory with run_dir=... or ROSE_RUNS_DIR, or free disk space."
            ) from exc

    def write(self, record_type: str, /, **fields: Any) -> None:
        """Append one record ``{"type": record_type, "time": ..., **fields}`` and flush it."""
        if self._file is None or self._failed:
            return
        if "result" in fields:
            fields["result"] = _small(fields["result"])
        line = json.dumps(jsonable({"type": record_type, "time": time.time(), **fields}), sort_keys=False)
        with self._lock:
            try:
                self._file.write(line + "\n")
                self._file.flush()
            except OSError as exc:
                self._failed = True
                logger.error(
                    "cannot write the journal %s (%s); the campaign goes on but cannot be "
                    "resumed from this point. Free disk space or fix permissions.", self.path, exc,
                )

    def close(self) -> None:
        """Flush and close the journal."""
        if self._file is not None:
            try:
                self._file.close()
            except OSError:  # pragma: no cover
                pass
            self._file = None


def read_journal(path: str) -> Iterator[dict[str, Any]]:
    """Yield the records of a journal (a run directory or the file itself).

    A truncated or corrupt *last* line is skipped with a warning; corruption earlier in
    the file raises ValueError naming the line.
    """
    if os.path.isdir(path):
        path = os.path.join(path, JOURNAL_NAME)
    with open(path, encoding="utf-8") as handle:
        lines = handle.readlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except json.JSONDecodeError as exc:
            if number == len(lines):
                logger.warning("ignoring the truncated last line %d of %s", number, path)
                return
            raise ValueError(f"journal {path} is corrupt at line {number}: {exc}") from exc


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
        handle.seek(0)
        data = handle.read()
        keep = data.rfind(b"\n") + 1
        logger.warning("removing the incomplete last record of %s (%d bytes cut off by a crash)", path, size - keep)
        handle.truncate(keep)


def _small(result: Any) -> Any:
    """The result as kept in the journal: JSON values up to MAX_RESULT_BYTES."""
    value = jsonable(result)
    if len(json.dumps(value)) > MAX_RESULT_BYTES:
        return {"omitted": f"result larger than {MAX_RESULT_BYTES} bytes", "type": type(result).__name__}
    return value


class ResumePoint:
    """What a learner needs to continue a campaign from its journal.

    ``states`` are the finished iterations (as dicts), ``next_iteration`` the first one
    to run, ``results[(iteration, task)]`` the last successful result of each task,
    ``finished_reason`` the stop reason when the campaign already ended for good.
    """

    def __init__(self, run_dir: str, learner_id: Any, records: list[dict[str, Any]]) -> None:
        self.run_dir = run_dir
        self.learner_id = learner_id
        mine = [r for r in records if r.get("learner_id") == learner_id]
        self.states = [r["state"] for r in mine if r.get("type") == "iteration"]
        self.next_iteration = (self.states[-1]["iteration"] + 1) if self.states else 0
        self.results: dict[tuple[Any, str], Any] = {}
        for record in mine:
            if record.get("type") == "task" and record.get("status") == "done":
                self.results[(record.get("iteration"), str(record.get("task")))] = record.get("result")
        stops = [r for r in mine if r.get("type") == "stop"]
        last_stop = stops[-1]["reason"] if stops else None
        # a met criterion ends a campaign for good; max_iter_reached can be extended
        self.finished_reason = last_stop if last_stop == "criterion_met" else None

    def result(self, iteration: int, task: str, default: Any = None) -> Any:
        """The recorded result of ``task`` at ``iteration``, or ``default``."""
        return self.results.get((iteration, task), default)


def load_resume_point(run_dir: str, learner_id: Any) -> ResumePoint:
    """Read ``run_dir``'s journal for one learner (raises FileNotFoundError naming it)."""
    path = os.path.join(run_dir, JOURNAL_NAME)
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"cannot resume: no journal at {path}. Pass the campaign directory printed when it "
            f"started (see `rose runs`)."
        )
    return ResumePoint(run_dir, learner_id, list(read_journal(path)))
