"""How many tasks were in flight over time, in a bounded number of time buckets.

Each finished task adds its interval ``[submit, end]``; a bucket holds the time-weighted mean
number of tasks in flight during it (exact, not sampled). When the campaign outgrows
:data:`MAX_BUCKETS` buckets, they are merged in pairs (the width doubles), so a campaign of
millions of tasks costs a few thousand numbers, and adding a task costs O(1) amortized.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["InFlight"]

#: at most this many buckets are kept (and sent to the page)
MAX_BUCKETS = 2048


class InFlight:
    """Time-weighted in-flight counts per bucket (see the module docstring)."""

    def __init__(self, start: float, width: float = 0.05) -> None:
        self.start = start
        self.width = width
        self._full = [0]  # difference array: +1 at the first bucket a task covers whole, -1 after the last
        self._part = [0.0]  # seconds of tasks covering a bucket in part
        self.tasks = 0

    def _grow(self, bucket: int) -> None:
        while bucket >= MAX_BUCKETS:
            self._halve()
            bucket //= 2
        if bucket >= len(self._part):
            extra = bucket + 1 - len(self._part)
            self._full.extend([0] * extra)
            self._part.extend([0.0] * extra)

    def _halve(self) -> None:
        """Merge buckets in pairs: the width doubles."""
        whole = self._whole()
        merged_part = []
        for index in range(0, len(whole), 2):
            pair = whole[index:index + 2]
            parts = self._part[index:index + 2]
            merged_part.append(sum(w * self.width for w in pair) + sum(parts))
        self.width *= 2
        self._part = merged_part
        self._full = [0] * len(merged_part)

    def _whole(self) -> list[int]:
        running, out = 0, []
        for step in self._full:
            running += step
            out.append(running)
        return out

    def add(self, submit: float, end: float) -> None:
        """One task attempt that was in flight from ``submit`` to ``end`` (unix seconds)."""
        if end < submit:
            submit, end = end, submit
        if submit < self.start:  # earlier than anything seen: only possible across journals; clip
            submit = self.start
            end = max(end, submit)
        self.tasks += 1
        last = int((end - self.start) / self.width)
        self._grow(last + 1)
        first = int((submit - self.start) / self.width)
        last = int((end - self.start) / self.width)
        if first == last:
            self._part[first] += end - submit
            return
        self._part[first] += (first + 1) * self.width - (submit - self.start)
        self._part[last] += (end - self.start) - last * self.width
        if last > first + 1:
            self._full[first + 1] += 1
            self._full[last] -= 1

    def series(self, running: Sequence[float] = (), now: float | None = None) -> dict[str, Any]:
        """``{"start", "width", "values", "tasks"}``: the mean number in flight per bucket (and
        how many attempts were counted); ``running``
        holds the start times of tasks still in flight at ``now`` (counted up to ``now``)."""
        values = [w + p / self.width for w, p in zip(self._whole(), self._part)]
        if running and now is not None:
            last = int((now - self.start) / self.width)
            if last < MAX_BUCKETS * 4:
                values.extend([0.0] * max(0, last + 1 - len(values)))
                for began in running:
                    first = max(0, int((began - self.start) / self.width))
                    for bucket in range(first, min(last + 1, len(values))):
                        values[bucket] += 1
        while values and values[-1] == 0:
            values.pop()
        return {"start": self.start, "width": self.width, "values": [round(v, 3) for v in values], "tasks": self.tasks}
