"""Following one journal file as a campaign appends to it: a byte offset, never a re-read."""

from __future__ import annotations

import os
from typing import Any

from rose.journal import read_new

__all__ = ["Follower"]


class Follower:
    """The records appended to ``path`` since the last :meth:`read` (complete lines only).

    The file is opened read-only; a call costs one ``stat`` when nothing was appended.
    ``skipped`` counts damaged lines, each also logged with its line number by
    :func:`rose.journal.read_new`; ``types`` keeps only records of those types (the others
    are not even parsed).
    """

    def __init__(self, path: str, *, rows: bool = False, types: tuple[str, ...] = ()) -> None:
        self.path = path
        self.rows = rows
        self.types = types
        self.offset = 0
        self.lines = 0
        self.skipped = 0

    def read(self) -> list[Any]:
        """The new records (dicts, and curve rows when ``rows``); ``[]`` when none or no file."""
        try:
            size = os.stat(self.path).st_size
        except FileNotFoundError:
            return []
        if size < self.offset:  # the file was replaced by a shorter one: start again
            self.offset = self.lines = 0
        if size == self.offset:
            return []
        records, self.offset, lines, skipped = read_new(self.path, self.offset, line=self.lines, rows=self.rows,
                                                        types=self.types)
        self.lines += lines
        self.skipped += skipped
        return records
