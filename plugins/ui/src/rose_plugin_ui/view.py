"""One campaign directory as the page shows it, kept up to date from the journal files' new lines.

A :class:`CampaignView` follows, in the campaign directory and in each learner's directory:

* ``curve.jsonl`` (:data:`rose.journal.CURVE_NAME`): one short row per iteration, plus the
  start, resume, stop, interrupted and allocation records: the learning curves, the status,
  the options and the allocation chain;
* ``journal.jsonl`` (only once a page asks for tasks): ``task`` records (written when an
  attempt ends: ``time`` is the end, ``time - seconds`` the submission), ``process``
  records (a command was spawned: its start) and ``running`` records (the tasks in flight
  for a second or more, :mod:`rose.flights`: how a function task shows while it runs). They
  make the task timeline and the in-flight counts.

The journal is read lazily: the timeline starts from its latest :data:`MAX_BARS` task records
(found by reading the file backwards) and follows it from there; the older records feed the
in-flight counts a slice of :data:`BACKFILL_BYTES` per request, and a page that scrolls back
gets the attempts of a time window (:meth:`CampaignView.tasks_between`, which bisects the
file by time). Every record is read once (a byte offset per file); nothing is ever written.
The derived values (direction, status fields) live on a :class:`rose.runs.Run`; the curve
points are kept in columns (one list per field), a few bytes a point, so 10^5 iterations
stay cheap, and a page gets a long curve thinned to what its width can show
(:mod:`rose_plugin_ui.sample`).
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections import deque
from typing import Any

from rose.journal import CURVE_FIELDS, CURVE_NAME, JOURNAL_NAME, read_new
from rose.runs import DRY_RUN_MARK, UNFINISHED, LearnerHistory, Run, is_run_dir
from rose_plugin_ui.bars import (
    MAX_WINDOW_BARS,
    TASK_TYPES,
    ended,
    finite,
    in_flight,
    key_of,
    listed_tasks,
    opened,
    task_key,
    window,
)
from rose_plugin_ui.follow import Follower, tail_start
from rose_plugin_ui.inflight import InFlight
from rose_plugin_ui.sample import envelope

__all__ = ["BACKFILL_BYTES", "MAX_BARS", "CampaignView"]

logger = logging.getLogger(__name__)

#: the task timeline keeps (and first sends) the latest this many task attempts
MAX_BARS = 3000
#: bytes of a journal's older records (before the timeline's start) read per request for the in-flight counts
BACKFILL_BYTES = 8 << 20
_ROW = len(CURVE_FIELDS)


class _Learner:
    """One journal directory (the campaign's own, or a learner's inside it)."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.curve = Follower(os.path.join(directory, CURVE_NAME), rows=True)
        self.journal = Follower(os.path.join(directory, JOURNAL_NAME),
                                types=("task", "process", "running", "resume", "stop", "interrupted"))
        self.open: dict[tuple[Any, ...], dict[str, Any]] = {}  # spawned commands not yet ended
        self.tailed = False  # the journal follower was placed at its latest task records
        self.backfill = Follower(self.journal.path, types=("task",))  # the records before that, for in-flight
        self.backfill_end = 0

    def place(self) -> None:
        """Follow the journal from its latest :data:`MAX_BARS` task records on (read backwards)."""
        self.tailed = True
        self.backfill_end = tail_start(self.journal.path, MAX_BARS, TASK_TYPES)
        self.journal.start_at(self.backfill_end)
        if self.backfill_end:
            logger.info("%s: the timeline starts %d bytes into the file (its latest %d task records)",
                        self.journal.path, self.backfill_end, MAX_BARS)

    def backfill_records(self) -> list[dict[str, Any]]:
        """The next slice (at most :data:`BACKFILL_BYTES`) of the task records before the timeline's start."""
        left = self.backfill_end - self.backfill.offset
        if left <= 0:
            return []
        records, self.backfill.offset, lines, skipped = read_new(
            self.backfill.path, self.backfill.offset, line=self.backfill.lines, types=("task",),
            limit=min(BACKFILL_BYTES, left))
        if self.backfill.lines is not None:
            self.backfill.lines += lines
        self.backfill.skipped += skipped
        return records


class CampaignView:
    """The page's view of one campaign directory (thread-safe; see the module docstring)."""

    def __init__(self, path: str) -> None:
        self.path = os.path.abspath(path)
        self.name = os.path.basename(self.path)
        self.run = Run(path=self.path, dry_run=os.path.isfile(os.path.join(self.path, DRY_RUN_MARK)))
        self.top_id: Any = None
        self.options: dict[str, Any] = {}
        self.events: list[dict[str, Any]] = []  # start, resume, stop, interrupted, allocation
        #: the curve points, append-only columns: learner (index into ``keys``), iteration, labeled_count, value, time
        self.points: dict[str, list[Any]] = {"l": [], "i": [], "n": [], "v": [], "t": []}
        self.keys: list[str] = []  # learner keys in the order their first point came
        #: per learner (as in ``keys``): the positions of its points that have a value, and
        #: whether one of them has no labeled count (the curve is then drawn against iterations)
        self._curves: list[list[int]] = []
        self._unlabeled: list[bool] = []
        self._sampled: tuple[tuple[int, int], dict[str, list[Any]]] | None = None
        self.engine: str | None = None  # the campaign's one engine, when its manifest names it
        self._index: dict[Any, int] = {}
        self.counts: dict[str, int] = {}
        self.labels: dict[str, str] = {}
        self.bars: deque[dict[str, Any]] = deque(maxlen=MAX_BARS)
        self.bar_count = 0  # task updates ever made (the cursor of the timeline)
        self.inflight: InFlight | None = None
        self.gone = False
        self._dirs: dict[str, _Learner] = {}
        self._lock = threading.Lock()
        self._details = False
        self._next_bar = 0
        self._summary: tuple[tuple[int, int, int, str, bool], dict[str, Any]] | None = None

    # -- reading ---------------------------------------------------------------------------

    def refresh(self, details: bool = False) -> None:
        """Read what was appended since the last call; ``details`` also follows the task records
        (a call without leaves them for the next call with)."""
        with self._lock:
            if not os.path.isdir(self.path):
                if not self.gone:
                    logger.warning("campaign %s disappeared while it was viewed", self.path)
                self.gone = True
                return
            self.gone = False
            self._details = self._details or details
            self._scan()
            for learner in self._dirs.values():
                for record in learner.curve.read():
                    if isinstance(record, list):
                        self._row(record)
                    else:
                        self._record(record)
                if details:
                    if not learner.tailed:
                        learner.place()
                    for record in learner.journal.read():
                        kind = record.get("type")
                        if kind == "task":
                            self._task(learner, record)
                        elif kind == "process":
                            self._process(learner, record)
                        elif kind == "running":
                            self._running(learner, record)
                        elif kind == "resume":  # in order with the task records
                            self._replayed(record.get("learner_id"))
                        elif kind in ("stop", "interrupted"):
                            self._cancelled(learner, record.get("time"))
                    for record in learner.backfill_records():
                        self._count(record)

    def _scan(self) -> None:
        if self.path not in self._dirs:
            self._dirs[self.path] = _Learner(self.path)
        try:
            entries = sorted(os.scandir(self.path), key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            if entry.path not in self._dirs and entry.is_dir() and is_run_dir(entry.path):
                self._dirs[entry.path] = _Learner(entry.path)

    def _history(self, learner_id: Any) -> LearnerHistory:
        history = self.run.learners.get(learner_id)
        if history is None:
            history = self.run.learners[learner_id] = LearnerHistory(learner_id=learner_id)
        return history

    def _row(self, row: list[Any]) -> None:
        if len(row) != _ROW:
            return
        moment, learner_id, _seconds, number, name, value, threshold, _stop, labeled, label = row
        index = self._index.get(learner_id)
        if index is None:
            index = self._index[learner_id] = len(self.keys)
            self.keys.append(key_of(learner_id))
            self._curves.append([])
            self._unlabeled.append(False)
            self._history(learner_id)
        key = self.keys[index]
        self.counts[key] = self.counts.get(key, 0) + 1
        if label is not None:
            self.labels[key] = str(label)
        if self.run.metric_name is None and name:
            self.run.metric_name = name
        if self.run.threshold is None and finite(threshold):
            self.run.threshold = float(threshold)
        if type(value) is not float or not math.isfinite(value):
            value = value if finite(value) else None
        points = self.points
        if value is not None:
            self._curves[index].append(len(points["l"]))
        labeled = labeled if type(labeled) is int or finite(labeled) else None
        if labeled is None and value is not None:
            self._unlabeled[index] = True
        points["l"].append(index)
        points["i"].append(number)
        points["n"].append(labeled)
        points["v"].append(value)
        points["t"].append(moment)
        if type(moment) is float:
            run = self.run
            if run.started is None or moment < run.started:
                run.started = moment
            if run.ended is None or moment > run.ended:
                run.ended = moment

    def _started(self, moment: Any) -> None:
        if finite(moment):
            if self.run.started is None or moment < self.run.started:
                self.run.started = float(moment)
            if self.run.ended is None or moment > self.run.ended:
                self.run.ended = float(moment)

    def _record(self, record: dict[str, Any]) -> None:
        kind = record.get("type")
        learner_id = record.get("learner_id")
        moment = record.get("time")
        self._started(moment)
        top = not self.events or learner_id == self.top_id
        if kind == "start" and not self.events:
            self.top_id = learner_id
            top = True
        if kind in ("start", "resume"):
            manifest = record.get("manifest")
            if top and isinstance(manifest, dict):
                self._manifest(manifest)
            if top:
                self.run.status = UNFINISHED
            history = self._history(learner_id)
            history.status = UNFINISHED
            if kind == "resume" and not self._details:
                self._replayed(learner_id)  # (with details, the journal's own resume record does it)
        elif kind == "stop":
            self._history(learner_id).status = str(record.get("reason") or UNFINISHED)
            if top:
                self.run.status = str(record.get("reason") or UNFINISHED)
        elif kind == "interrupted":
            if top:
                self.run.status = "interrupted"
        elif kind != "allocation":
            return
        event = {k: v for k, v in record.items() if k not in ("manifest", "final")}
        self.events.append(event)

    def _manifest(self, manifest: dict[str, Any]) -> None:
        self.options = manifest
        named = manifest.get("backend") or manifest.get("engine")
        self.engine = named if isinstance(named, str) else self.engine
        self.run.manifest = manifest
        self.run.learner_type = str(manifest.get("learner_type") or "?")
        max_iter = manifest.get("max_iter")
        self.run.max_iter = max_iter if isinstance(max_iter, int) else None
        criterion = manifest.get("criterion")
        if isinstance(criterion, dict):
            self.run.metric_name = criterion.get("metric_name") or self.run.metric_name
            if finite(criterion.get("threshold")):
                self.run.threshold = float(criterion["threshold"])
            self.run.operator = criterion.get("operator") or None

    # -- tasks -----------------------------------------------------------------------------

    def _bar(self, bar: dict[str, Any]) -> None:
        self.bar_count += 1
        bar["seq"] = self.bar_count
        self.bars.append(dict(bar))

    def _process(self, learner: _Learner, record: dict[str, Any]) -> None:
        bar = opened(record, self._next_bar + 1)
        if bar is None:
            return
        self._next_bar += 1
        self._inflight_at(bar["submit"])
        learner.open[task_key(record)] = bar
        self._bar(bar)

    def _running(self, learner: _Learner, record: dict[str, Any]) -> None:
        """The long tasks in flight (a ``running`` record, :mod:`rose.flights`): a running bar for
        each not shown yet; one an earlier such record opened and this one no longer lists (when
        it lists them all) was cancelled: nothing else ends it."""
        listed = listed_tasks(record)
        if listed is None:
            return
        entries, complete = listed
        keys = set()
        for entry in entries:
            key = task_key(entry)
            keys.add(key)
            if key in learner.open:
                continue
            bar = in_flight(entry, self._next_bar + 1)
            self._next_bar += 1
            self._inflight_at(bar["submit"])
            learner.open[key] = bar
            self._bar(bar)
        if complete:
            gone = [key for key, bar in learner.open.items() if bar.get("listed") and key not in keys]
            for key in gone:
                self._close(learner.open.pop(key), "cancelled", record.get("time"))

    def _task(self, learner: _Learner, record: dict[str, Any]) -> None:
        bar = ended(record, learner.open, self._next_bar + 1)
        if bar is None:
            return
        if bar["id"] > self._next_bar:
            self._next_bar = bar["id"]
        self._count(record)
        self._bar(bar)

    def _count(self, record: dict[str, Any]) -> None:
        """Add an ended task attempt to the in-flight counts."""
        end, seconds = record.get("time"), record.get("seconds")
        if finite(end):
            submit = end - seconds if finite(seconds) else end
            self._inflight_at(submit)
            assert self.inflight is not None
            self.inflight.add(submit, end)

    def tasks_between(self, start: float, end: float, limit: int = MAX_WINDOW_BARS) -> dict[str, Any]:
        """The task attempts that ended between ``start`` and ``end`` (unix seconds), the latest
        ``limit`` of them (:func:`rose_plugin_ui.bars.window`)."""
        with self._lock:
            paths = [learner.journal.path for learner in self._dirs.values()]
        return window(paths, start, end, limit)

    def _cancelled(self, learner: _Learner, moment: Any) -> None:
        """A command still running when its learner stopped was cancelled with it."""
        for bar in learner.open.values():
            self._close(bar, "cancelled", moment)
        learner.open.clear()

    def _close(self, bar: dict[str, Any], state: str, moment: Any) -> None:
        """End an open bar with ``state`` at ``moment`` (its start when that is not a time)."""
        end = moment if finite(moment) else bar["start"]
        bar.update(state=state, end=end)
        self._inflight_at(bar["submit"])
        assert self.inflight is not None
        self.inflight.add(bar["submit"], end)
        self._bar(bar)

    def _inflight_at(self, moment: float) -> None:
        if self.inflight is None:
            self.inflight = InFlight(self.run.started if self.run.started is not None else moment)

    def _replayed(self, learner_id: Any) -> None:
        """A resume reuses what its learner finished before: those attempts are shown as replayed."""
        wanted = key_of(learner_id)
        for bar in list(self.bars):
            if bar["learner"] == wanted and bar["state"] == "done":
                self._bar({**bar, "state": "replayed"})

    # -- what the page gets ----------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """The campaign as the index lists it (the columns of ``rose runs``, and the allocations)."""
        with self._lock:
            run = self.run
            key = (len(self.points["l"]), len(self.events), self._skipped(), run.status, self.gone)
            if self._summary is not None and self._summary[0] == key:
                return self._summary[1]
            summary = {"name": self.name, "learner_type": run.learner_type, "status": run.status,
                       "learners": len(self._learners()), "iterations": max(self.counts.values(), default=0),
                       "metric": run.metric_name, "threshold": run.threshold, "operator": run.operator,
                       "best_metric": None if run.dry_run else self._best(), "started": run.started,
                       "ended": run.ended, "allocations": self._allocations(), "gone": self.gone,
                       "skipped": self._skipped()}
            self._summary = (key, summary)
            return summary

    def _best(self) -> float | None:
        """The best criterion value any learner reached (the direction of :attr:`rose.runs.Run.direction`)."""
        values = [v for v in self.points["v"] if v is not None]
        if not values:
            return None
        return float(max(values) if self.run.direction == "max" else min(values))

    def _learners(self) -> list[str]:
        """The learner keys in id order; a parent that ran sub-learners keeps theirs only (as ``rose runs``)."""
        learners = [key_of(h.learner_id) for h in self.run.ordered_learners()]
        with_points = [key for key in learners if self.counts.get(key)]
        return with_points if len(learners) > 1 and with_points else learners

    def _skipped(self) -> int:
        return sum(d.curve.skipped + d.journal.skipped + d.backfill.skipped for d in self._dirs.values())

    def _allocations(self) -> list[dict[str, Any]]:
        chain: list[dict[str, Any]] = []
        for event in self.events:
            if event.get("learner_id") != self.top_id:
                continue
            if event.get("type") == "allocation":
                chain.append({k: event.get(k) for k in ("job_id", "scheduler", "started", "deadline", "deadline_source")}
                             | {"opened": event.get("time"), "ended": None, "reason": None})
            elif event.get("type") in ("stop", "interrupted") and chain and chain[-1]["ended"] is None:
                chain[-1]["ended"] = event.get("time")
                chain[-1]["reason"] = event.get("reason") or event.get("type")
        return chain

    def _columns(self, positions: list[int]) -> dict[str, list[Any]]:
        """The curve points at ``positions``, in columns, with their positions (``k``)."""
        columns = {column: [values[k] for k in positions] for column, values in self.points.items()}
        columns["k"] = positions
        return columns

    def _overview(self, width: int) -> dict[str, list[Any]]:
        """Every learner's curve thinned to ``width`` columns (:func:`rose_plugin_ui.sample.envelope`)."""
        key = (len(self.points["l"]), width)
        if self._sampled is not None and self._sampled[0] == key:
            return self._sampled[1]
        values = self.points["v"]
        kept: list[int] = []
        for curve in self._curves:
            kept.extend(curve[k] for k in envelope([values[k] for k in curve], width))
        kept.sort()
        columns = self._columns(kept)
        self._sampled = (key, columns)
        return columns

    def _x(self, index: int) -> list[Any]:
        """The x column of learner ``index``: labeled counts when every point has one, else iterations."""
        return self.points["i"] if self._unlabeled[index] else self.points["n"]

    def zoom(self, low: float, high: float, width: int) -> dict[str, Any]:
        """The points of every learner whose x lies between ``low`` and ``high`` (and the one
        either side, so lines reach the edges), thinned only when more than ``width`` columns
        can show."""
        with self._lock:
            values = self.points["v"]
            kept: list[int] = []
            total = 0
            for index, curve in enumerate(self._curves):
                xs = self._x(index)
                inside = [n for n, k in enumerate(curve) if xs[k] is not None and low <= xs[k] <= high]
                if not inside:
                    continue
                total += len(inside)
                span = curve[max(0, inside[0] - 1):inside[-1] + 2]
                kept.extend(span[k] for k in envelope([values[k] for k in span], width))
            kept.sort()
            return {"points": self._columns(kept), "low": low, "high": high, "inside": total,
                    "exact": len(kept) >= total}

    def snapshot(self, points_from: int = 0, bars_from: int = 0, width: int = 0, tasks: bool = True,
                 latest: int = 0) -> dict[str, Any]:
        """Everything the campaign page needs, the points and task updates after the cursors;
        with ``points_from`` 0 and a ``width`` (in pixels) the curves thinned to that width;
        without ``tasks`` no task update (the cursor stays); with ``latest``, at most the latest
        that many task updates (a page following the campaign draws no more)."""
        with self._lock:
            run = self.run
            labels = {key: self.labels.get(key) or ("learner" if key == "-" else f"learner {key}")
                      for key in self._learners()}
            running = [bar["start"] for d in self._dirs.values() for bar in d.open.values() if finite(bar.get("start"))]
            first_bar = max(bars_from, self.bar_count - len(self.bars))
            skip = first_bar - (self.bar_count - len(self.bars))
            bars = list(self.bars)[skip:] if tasks and bars_from < self.bar_count else []
            if 0 < latest < len(bars):
                bars = bars[-latest:]
            now = time.time()
            total = len(self.points["l"])
            if points_from == 0 and width > 0:
                points = self._overview(width)
            else:
                points = self._columns(list(range(points_from, total)))
            backfill = sum(d.backfill_end for d in self._dirs.values())
            read = sum(min(d.backfill.offset, d.backfill_end) for d in self._dirs.values())
            return {
                "name": self.name, "status": run.status, "learner_type": run.learner_type,
                "metric": run.metric_name, "threshold": run.threshold, "operator": run.operator,
                "direction": run.direction, "options": self.options, "learners": labels,
                "events": self.events, "allocations": self._allocations(),
                "points": points, "points_cursor": total, "sampled": len(points["k"]) < total - points_from,
                "learner_keys": self.keys, "learner_x": {key: "i" if self._unlabeled[index] else "n"
                                                         for index, key in enumerate(self.keys)},
                "engine": self.engine, "inflight_read": 1.0 if not backfill else round(read / backfill, 3),
                "older": backfill > 0,
                "bars": bars, "bars_cursor": self.bar_count if tasks else bars_from, "max_bars": MAX_BARS,
                "inflight": self.inflight.series(running, now) if self.inflight is not None else None,
                "gone": self.gone, "skipped": self._skipped(), "now": now,
            }
