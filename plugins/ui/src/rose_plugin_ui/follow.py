"""Following one journal file as a campaign appends to it: a byte offset, never a re-read.

Also the two ways the page reaches into a long journal without reading all of it:
:func:`tail_start` (where the latest records of some types begin, found by reading backwards)
and :func:`offset_at` (where the records of a moment begin, found by bisecting the file, whose
records are in time order).
"""

from __future__ import annotations

import os
from typing import Any

import orjson

from rose.journal import read_new

__all__ = ["Follower", "offset_at", "tail_start"]

#: bytes read per step when a file is read backwards or probed
BLOCK = 1 << 20


class Follower:
    """The records appended to ``path`` since the last :meth:`read` (complete lines only).

    The file is opened read-only; a call costs one ``stat`` when nothing was appended.
    ``skipped`` counts damaged lines, each also logged with its line number in the file by
    :func:`rose.journal.read_new` (after :meth:`start_at`, the lines before are counted only
    when a damaged line is named); ``types`` keeps only records of those types (the others are
    not even parsed).
    """

    def __init__(self, path: str, *, rows: bool = False, types: tuple[str, ...] = ()) -> None:
        self.path = path
        self.rows = rows
        self.types = types
        self.offset = 0
        self.lines: int | None = 0  # the lines before ``offset`` (None: not counted)
        self.skipped = 0

    def start_at(self, offset: int) -> None:
        """Follow from byte ``offset`` (a line start) instead of the beginning."""
        self.offset = offset
        self.lines = None if offset else 0

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
        if self.lines is not None:
            self.lines += lines
        self.skipped += skipped
        return records


def _prefixes(types: tuple[str, ...]) -> tuple[bytes, ...]:
    # records are written with their type first (see rose.journal.read_new)
    return tuple(b'{"type":"' + kind.encode() + b'"' for kind in types)


def tail_start(path: str, wanted: int, types: tuple[str, ...], end: int | None = None) -> int:
    """The offset of the line from which on ``path`` holds its last ``wanted`` records of
    ``types`` before byte ``end`` (a line start; default: the end of the file), 0 when it holds
    fewer; only what lies before ``end`` is read, backwards, as far as needed."""
    prefixes = _prefixes(types)
    try:
        with open(path, "rb") as handle:
            head = handle.seek(0, os.SEEK_END) if end is None else end
            found = 0
            carry = b""  # the start of a line that began in the previous (earlier) block
            while head > 0:
                start = max(0, head - BLOCK)
                handle.seek(start)
                block = handle.read(head - start) + carry
                head = start
                lines = block.split(b"\n")
                carry = lines.pop(0) if start > 0 else b""  # possibly cut: finished with the next block
                position = head + len(carry) + (1 if start > 0 else 0)
                starts = []
                for line in lines:
                    starts.append((position, line))
                    position += len(line) + 1
                for offset, line in reversed(starts):
                    if line.startswith(prefixes):
                        found += 1
                        if found >= wanted:
                            return offset
            return 0
    except FileNotFoundError:
        return 0


def _line_after(handle: Any, offset: int, stop: int) -> tuple[int, float] | None:
    """(the start, the time) of the first stamped record whose line starts after ``offset``
    (at it, for 0) and before ``stop``; None when there is none."""
    position = offset
    handle.seek(offset)
    if offset > 0:
        handle.readline()  # the rest of the line ``offset`` falls in
        position = handle.tell()
    while position < stop:
        line = handle.readline()
        if not line.endswith(b"\n"):
            return None  # the end of the file, or a line still being written
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            record = None
        moment = record.get("time") if isinstance(record, dict) else None
        if isinstance(moment, (int, float)) and not isinstance(moment, bool):
            return position, float(moment)
        position += len(line)
    return None


def offset_at(path: str, moment: float, stop: int | None = None) -> int:
    """The offset of a line at or before the first record of ``path`` stamped ``moment`` or
    later (records are written in time order), looking before byte ``stop`` only; a few
    blocks are read, whatever the file's size."""
    try:
        with open(path, "rb") as handle:
            end = handle.seek(0, os.SEEK_END) if stop is None else stop
            low, high = 0, end  # the answer lies in [low, high]; low is a line start
            while high - low > BLOCK:
                middle = (low + high) // 2
                found = _line_after(handle, middle, high)
                if found is None or found[1] >= moment:
                    high = middle
                else:
                    low = found[0]
            return low
    except FileNotFoundError:
        return 0
