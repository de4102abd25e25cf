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

__all__ = ["JOURNAL_NAME", "Journal", "read_journal"]

JOURNAL_NAME = "journal.jsonl"
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
        """Create the run directory and open the journal for appending."""
        os.makedirs(self.run_dir, exist_ok=True)
        self._file = open(self.path, "a", encoding="utf-8")

    def write(self, record_type: str, /, **fields: Any) -> None:
        """Append one record ``{"type": record_type, "time": ..., **fields}`` and flush it."""
        if self._file is None or self._failed:
            return
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
