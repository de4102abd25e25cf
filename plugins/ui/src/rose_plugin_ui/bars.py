"""Task attempts as bars of the timeline, made from the journal's ``task`` and ``process`` records.

A ``process`` record (a command's process started) opens a running bar, and so does each task a
``running`` record lists (the tasks in flight for a second or more, :mod:`rose.flights`: a
function task's only sign of life before its end); the attempt's ``task`` record (written when
it ends: ``time`` is the end, ``time - seconds`` the submission) ends it, or makes the whole bar
when there was none (a function task done within a second). :func:`window` reads the bars of a
time window from journal files without reading them whole.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, TypeGuard

from rose.journal import read_new
from rose_plugin_ui.follow import BLOCK, offset_at, tail_start

__all__ = ["MAX_WINDOW_BARS", "STATES", "TASK_TYPES", "ended", "finite", "in_flight", "key_of", "listed_tasks", "opened",
           "task_key", "window"]

#: the most task attempts one time window of the timeline returns
MAX_WINDOW_BARS = 3000
#: the record types the timeline follows
TASK_TYPES = ("task", "process")
#: the states of a task attempt on the timeline
STATES = ("queued", "running", "done", "failed", "cancelled", "replayed")


def finite(value: Any) -> TypeGuard[int | float]:
    """True for a finite int or float (not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def task_key(record: dict[str, Any]) -> tuple[Any, ...]:
    """What pairs a command's ``process`` record with its ``task`` record."""
    return record.get("learner_id"), record.get("iteration"), record.get("task"), record.get("key")


def opened(record: dict[str, Any], number: int) -> dict[str, Any] | None:
    """The bar of a command whose process started (a ``process`` record), numbered ``number``."""
    moment = record.get("time")
    if not finite(moment):
        return None
    return {"id": number, "learner": key_of(record.get("learner_id")), "iteration": record.get("iteration"),
            "task": record.get("task"), "key": record.get("key"), "kind": record.get("task"), "attempt": None,
            "submit": moment, "start": moment, "end": None, "state": "running", "engine": record.get("engine"),
            "pid": record.get("pid")}


def listed_tasks(record: dict[str, Any]) -> tuple[list[dict[str, Any]], bool] | None:
    """The tasks a ``running`` record lists (each with the record's ``learner_id``), and whether
    that is all of them (its ``count``); None for a record that is not one."""
    tasks, count = record.get("tasks"), record.get("count")
    if not isinstance(tasks, list):
        return None
    learner_id = record.get("learner_id")
    entries = [{**entry, "learner_id": learner_id} for entry in tasks
               if isinstance(entry, dict) and finite(entry.get("submit"))]
    return entries, isinstance(count, int) and count <= len(tasks)


def in_flight(entry: dict[str, Any], number: int) -> dict[str, Any]:
    """The running bar, numbered ``number``, of a task a ``running`` record lists (from
    :func:`listed_tasks`): in flight since its submission (when a function's thread took it up
    is not recorded)."""
    submit = entry["submit"]
    return {"id": number, "learner": key_of(entry.get("learner_id")), "iteration": entry.get("iteration"),
            "task": entry.get("task"), "key": entry.get("key"), "kind": entry.get("kind"), "attempt": None,
            "submit": submit, "start": submit, "end": None, "state": "running", "engine": None, "listed": True}


def ended(record: dict[str, Any], open_bars: dict[tuple[Any, ...], dict[str, Any]], number: int) -> dict[str, Any] | None:
    """The bar of an ended attempt (a ``task`` record): its command's bar from ``open_bars``
    when there is one (taken out), else a new one numbered ``number``."""
    end, seconds = record.get("time"), record.get("seconds")
    if not finite(end):
        return None
    submit = end - seconds if finite(seconds) else end
    bar = open_bars.pop(task_key(record), None)
    if bar is None:
        bar = {"id": number, "learner": key_of(record.get("learner_id")), "iteration": record.get("iteration"),
               "task": record.get("task"), "key": record.get("key"), "start": None, "engine": record.get("engine")}
    status = str(record.get("status") or "done")
    bar.update(kind=record.get("kind"), attempt=record.get("attempt"), submit=submit, end=end,
               state=status if status in STATES else "failed" if status != "done" else "done",
               error=record.get("error"))
    return bar


def key_of(learner_id: Any) -> str:
    """A learner id as a JSON object key (``None``, the campaign's own learner, is ``"-"``)."""
    return "-" if learner_id is None else str(learner_id)


def window(paths: Sequence[str], start: float, end: float, limit: int = MAX_WINDOW_BARS) -> dict[str, Any]:
    """``{"bars", "more", "start", "end"}``: the attempts recorded in the journal files ``paths``
    that ended between ``start`` and ``end`` (unix seconds), the latest ``limit`` of them; each
    file is bisected by time and read from there; ``more`` says whether earlier attempts of the
    window were left out. The bars get negative ids (never those of a followed timeline)."""
    bars: list[dict[str, Any]] = []
    more = False
    for path in paths:
        stop = offset_at(path, end)
        first = offset_at(path, start, stop)
        begin = max(first, tail_start(path, limit, TASK_TYPES, end=stop))
        more = more or begin > first
        bars.extend(_read_window(path, begin, start, end))
    bars.sort(key=lambda bar: bar["end"])
    if len(bars) > limit:
        more, bars = True, bars[-limit:]
    for number, bar in enumerate(bars):
        bar["id"] = -(number + 1)
    return {"bars": bars, "more": more, "start": start, "end": end}


def _read_window(path: str, offset: int, start: float, end: float) -> list[dict[str, Any]]:
    """The ended attempts of ``path`` from byte ``offset`` on, stamped between ``start`` and ``end``."""
    open_bars: dict[tuple[Any, ...], dict[str, Any]] = {}
    found: list[dict[str, Any]] = []
    while True:
        records, offset, _, _ = read_new(path, offset, line=None, types=TASK_TYPES, limit=4 * BLOCK)
        if not records:
            return found
        for record in records:
            moment = record.get("time")
            if not finite(moment) or moment < start:
                continue
            if moment > end:
                return found
            if record.get("type") == "process":
                bar = opened(record, 0)
                if bar is not None:
                    open_bars[task_key(record)] = bar
            else:
                bar = ended(record, open_bars, 0)
                if bar is not None:
                    found.append(bar)
