"""Fewer points for a long learning curve that draw the same picture.

A curve of ``n`` points shown ``width`` pixels wide is cut into ``width`` runs of consecutive
points; each run keeps its first, lowest, highest and last point (the envelope a line through
all of them draws, pixel column by pixel column). The kept points are real points, with their
own iteration and time, and the best point of the curve is always among them.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["POINTS_PER_COLUMN", "envelope"]

#: a run keeps at most this many points (first, lowest, highest, last)
POINTS_PER_COLUMN = 4


def envelope(values: Sequence[float], width: int) -> list[int]:
    """The positions in ``values`` to keep (ascending): all of them when there are at most
    ``POINTS_PER_COLUMN * width``, else the first, lowest, highest and last of each of
    ``width`` runs of consecutive values."""
    count = len(values)
    if width < 1 or count <= POINTS_PER_COLUMN * width:
        return list(range(count))
    kept: list[int] = []
    key = values.__getitem__
    for column in range(width):
        start, stop = count * column // width, count * (column + 1) // width
        if stop <= start:
            continue
        span = range(start, stop)
        low, high = min(span, key=key), max(span, key=key)
        for position in sorted({start, low, high, stop - 1}):
            kept.append(position)
    return kept
