"""Reading campaign directories: what ``rose runs`` and ``rose show`` print and plot.

Every campaign writes ``<run_dir>/journal.jsonl`` (see :mod:`rose.journal`). Learners that
run sub-learners (parallel learners) also keep one journal per sub-learner in a
subdirectory (``learner-0/journal.jsonl``, ...); :func:`load_run` reads both shapes and
merges them into one :class:`Run` with a :class:`LearnerHistory` per learner.

Two conventions make tables and plots more telling, without being required: a task that
reports ``labeled_count`` in its dict result gives the x axis of learning curves (number of
labeled samples or simulations), and one that reports ``learner_label`` names its learner.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Iterable, Mapping
from typing import Any, TypeGuard

from attrs import define, field

from rose.allocation import campaign_jobs
from rose.journal import (
    CURVE_FIELDS,
    CURVE_NAME,
    JOURNAL_NAME,
    curve_is_current,
    paused_gc,
    read_curve,
    read_summary,
)

__all__ = [
    "LearnerHistory",
    "Run",
    "find_runs",
    "is_run_dir",
    "list_runs",
    "load_run",
    "match_run",
    "reached_target",
    "resolve_run",
    "started_at",
]

logger = logging.getLogger(__name__)

#: the file the dry-run backend writes into the campaign directory: it marks a dry run
DRY_RUN_MARK = "dry-run.jsonl"
#: the dry-run backend's readable report, next to :data:`DRY_RUN_MARK`
DRY_RUN_REPORT = "dry-run.txt"

#: run status when the journal has no stop record
UNFINISHED = "unfinished"
INTERRUPTED = "interrupted"


@define(kw_only=True)
class LearnerHistory:
    """One learner of a campaign: its iterations (state dicts), task attempts and status."""

    learner_id: Any
    iterations: list[dict[str, Any]] = field(factory=list)
    tasks: list[dict[str, Any]] = field(factory=list)
    status: str = UNFINISHED
    journal: str | None = None
    seconds: dict[Any, float] = field(factory=dict)  # task seconds per iteration, as the campaign recorded them
    #: the label and what it was found in (the list and its length): a long campaign is scanned once
    _label: tuple[int, int, str] | None = field(default=None, init=False, repr=False, eq=False)

    @property
    def label(self) -> str:
        """``learner_label`` reported by a task, else ``learner <id>`` (``learner`` alone)."""
        states = self.iterations
        if self._label is not None and self._label[:2] == (id(states), len(states)):
            return self._label[2]
        label = "learner" if self.learner_id is None else f"learner {self.learner_id}"
        for state in reversed(states):
            value = state.get("learner_label") or (state.get("state") or {}).get("learner_label")
            if isinstance(value, str) and value:
                label = value
                break
        self._label = (id(states), len(states), label)
        return label

    def metric_values(self) -> list[float]:
        """The criterion value of every iteration that has one, in order."""
        return [float(value) for s in self.iterations if _finite(value := s.get("metric_value"))]

    def x_values(self) -> tuple[str, list[float]]:
        """``("labeled_count", [...])`` when every iteration reports it, else iteration numbers."""
        points = [s for s in self.iterations if _finite(s.get("metric_value"))]
        counts = [s.get("labeled_count") for s in points]
        if points and all(map(_finite, counts)):
            return "labeled_count", [float(c) for c in counts]  # type: ignore[arg-type]
        return "iteration", [float(s["iteration"]) for s in points]

    def task_seconds(self, iteration: Any) -> float:
        """Seconds spent in the task attempts of ``iteration``."""
        if iteration in self.seconds:
            return self.seconds[iteration]
        return sum(float(t.get("seconds") or 0.0) for t in self.tasks if t.get("iteration") == iteration)


@define(kw_only=True)
class Run:
    """A campaign directory, read back from its journal(s)."""

    path: str
    learner_type: str = "?"
    metric_name: str | None = None
    threshold: float | None = None
    operator: str | None = None
    status: str = UNFINISHED
    started: float | None = None
    ended: float | None = None
    max_iter: int | None = None
    manifest: dict[str, Any] = field(factory=dict)
    learners: dict[Any, LearnerHistory] = field(factory=dict)
    #: True when the campaign ran on the dry-run backend: no task ran, its metrics are placeholders
    dry_run: bool = False
    #: the batch jobs (allocations) the campaign ran in, oldest first (:func:`rose.allocation.campaign_jobs`)
    jobs: list[dict[str, Any]] = field(factory=list)

    @property
    def name(self) -> str:
        """The directory name (``20261122-101500-surrogate-demo``)."""
        return os.path.basename(os.path.normpath(self.path))

    @property
    def journal(self) -> str:
        """The top-level journal file."""
        return os.path.join(self.path, JOURNAL_NAME)

    @property
    def iterations(self) -> int:
        """Iterations of the longest-running learner."""
        return max((len(h.iterations) for h in self.learners.values()), default=0)

    @property
    def direction(self) -> str:
        """``"max"`` when larger metric values are better, else ``"min"``."""
        if self.operator in (">", ">="):
            return "max"
        if self.operator:
            return "min"
        if self.metric_name:
            from rose.metrics import direction_of

            try:
                return direction_of(self.metric_name)
            except Exception:
                logger.debug("no direction for %s", self.metric_name, exc_info=True)
        return "min"

    def best_metric(self) -> float | None:
        """The best criterion value any learner reached (None without values)."""
        values = [v for h in self.learners.values() for v in h.metric_values()]
        if not values:
            return None
        return max(values) if self.direction == "max" else min(values)

    def ordered_learners(self) -> list[LearnerHistory]:
        """The learners in id order."""
        return [self.learners[key] for key in sorted(self.learners, key=_sort_key)]


def is_run_dir(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a campaign directory (it holds a journal)."""
    return os.path.isfile(os.path.join(os.fspath(path), JOURNAL_NAME))


def find_runs(root: str | os.PathLike[str] | None = None) -> list[str]:
    """Campaign directories directly under ``root`` (default: the runs root), oldest first."""
    if root is None:
        from rose.engine import runs_root

        root = runs_root()
    root = os.fspath(root)
    if not os.path.isdir(root):
        return []
    found = [entry.path for entry in os.scandir(root) if entry.is_dir() and is_run_dir(entry.path)]
    return sorted(found, key=lambda p: (started_at(p), p))


def list_runs(root: str | os.PathLike[str] | None = None, *, full: bool = True) -> list[Run]:
    """Every readable campaign under ``root``, oldest first (unreadable ones are logged).

    ``full`` as for :func:`load_run`.
    """
    runs = []
    for path in find_runs(root):
        try:
            runs.append(load_run(path, full=full))
        except (OSError, ValueError) as exc:
            logger.warning("skipping %s: %s", path, exc)
    return runs


def resolve_run(ref: str, root: str | os.PathLike[str] | None = None) -> str:
    """The campaign directory ``ref`` names: a path, a directory name under the runs root,
    a part of one (the latest campaign when several match), or ``latest``.

    Raises FileNotFoundError listing what exists when nothing matches.
    """
    return match_run(ref, root)[0]


def match_run(ref: str, root: str | os.PathLike[str] | None = None) -> tuple[str, list[str]]:
    """Like :func:`resolve_run`, also returning every campaign ``ref`` matched, oldest first.

    ``rose show surrogate-demo`` after three demo runs shows the latest of the three; the
    caller says so with the list (one element when the match was unique).
    """
    if is_run_dir(ref):
        path = os.path.abspath(ref)
        return path, [path]
    runs = find_runs(root)
    if root is None:
        from rose.engine import runs_root

        root = runs_root()
    if not runs:
        raise FileNotFoundError(f"no campaigns under {os.fspath(root)} (set ROSE_RUNS_DIR or pass a run directory)")
    if ref in ("latest", "last", "-1"):
        return runs[-1], [runs[-1]]
    names = {os.path.basename(p): p for p in runs}
    if ref in names:
        return names[ref], [names[ref]]
    matches = [p for name, p in names.items() if ref in name]  # oldest first, like runs
    if matches:
        return matches[-1], matches
    listing = ", ".join(sorted(names)[-10:])
    raise FileNotFoundError(f"no campaign {ref!r} under {os.fspath(root)}; recent ones: {listing}")


def load_run(path: str | os.PathLike[str], *, full: bool = True) -> Run:
    """Read a campaign directory (its journal and its sub-learners' journals).

    With ``full=False`` the iteration states are read from the directory's curve
    (:data:`rose.journal.CURVE_NAME`, when the campaign wrote one) and hold only what
    ``rose show`` tables and plots: ``iteration``, ``metric_name``, ``metric_value``,
    ``metric_threshold``, ``should_stop``, ``learner_id``, ``labeled_count`` and, when a
    task reported one, ``learner_label``. That is several times quicker on a long campaign.
    """
    path = os.path.abspath(os.fspath(path))
    if not is_run_dir(path):
        raise FileNotFoundError(f"{path} is not a campaign directory: it has no {JOURNAL_NAME}")
    with paused_gc():  # hundreds of thousands of acyclic records: see rose.journal.paused_gc
        return _load_run(path, full)


def _load_run(path: str, full: bool) -> Run:
    histories: dict[Any, LearnerHistory] = {}
    unordered: set[Any] = set()
    top, times = _read(path, full, histories, unordered)
    run = Run(path=path, dry_run=os.path.isfile(os.path.join(path, DRY_RUN_MARK)))
    starts = [r for r in top if r.get("type") == "start"]
    top_id = starts[0].get("learner_id") if starts else None
    if starts:
        run.manifest = dict(starts[-1].get("manifest") or {})
    _apply_manifest(run, run.manifest)
    for entry in sorted(os.scandir(path), key=lambda e: e.name):
        if entry.is_dir() and is_run_dir(entry.path):
            _read(entry.path, full, histories, unordered)
    run.status, run.started, run.ended = _status(top, top_id, times)
    run.jobs = campaign_jobs(path, top)
    # a parent that ran sub-learners keeps their states only: drop its own empty entry
    if len(histories) > 1 and top_id in histories and not histories[top_id].iterations:
        del histories[top_id]
    for learner_id, history in histories.items():
        if learner_id in unordered:
            history.iterations.sort(key=lambda s: (s.get("iteration", 0)))
        if history.status == UNFINISHED and run.status != UNFINISHED:
            history.status = run.status
    if not histories:
        histories[top_id] = LearnerHistory(learner_id=top_id, status=run.status, journal=run.journal)
    run.learners = histories
    if run.metric_name is None or run.threshold is None:
        for history in histories.values():
            for state in history.iterations:
                run.metric_name = run.metric_name or state.get("metric_name")
                if run.threshold is None and _finite(state.get("metric_threshold")):
                    run.threshold = float(state["metric_threshold"])
                if run.metric_name is not None and run.threshold is not None:
                    return run
    return run


def reached_target(history: LearnerHistory, threshold: float | None, operator: str | None) -> dict[str, Any] | None:
    """The first iteration state of ``history`` whose metric meets ``OP threshold``, else None."""
    if threshold is None:
        return None
    from rose.metrics import compare

    for state in history.iterations:
        if state.get("should_stop") and _finite(state.get("metric_value")):
            return state
        if operator and _finite(state.get("metric_value")) and compare(float(state["metric_value"]), threshold, operator):
            return state
    return None


def started_at(path: str | os.PathLike[str]) -> float:
    """When the campaign in ``path`` started: the time of its journal's first (start) record,
    else the journal's modification time (0 without a journal)."""
    journal = os.path.join(os.fspath(path), JOURNAL_NAME)
    try:
        with open(journal, encoding="utf-8") as handle:
            first = json.loads(handle.readline() or "{}")
        return float(first["time"]) if _finite(first.get("time")) else os.path.getmtime(journal)
    except (OSError, ValueError, AttributeError):
        return 0.0


# -- helpers ------------------------------------------------------------------------------


def _apply_manifest(run: Run, manifest: Mapping[str, Any]) -> None:
    run.learner_type = str(manifest.get("learner_type") or "?")
    max_iter = manifest.get("max_iter")
    run.max_iter = int(max_iter) if isinstance(max_iter, int) else None
    criterion = manifest.get("criterion") or {}
    if isinstance(criterion, Mapping):
        run.metric_name = criterion.get("metric_name") or None
        threshold: Any = criterion.get("threshold")
        run.threshold = float(threshold) if _finite(threshold) else None
        run.operator = criterion.get("operator") or None


def _collect(histories: dict[Any, LearnerHistory], records: Iterable[dict[str, Any]], journal: str,
             unordered: set[Any]) -> None:
    """Add the records of one journal to ``histories``; ``unordered`` gets the learners whose
    iterations did not arrive in ascending order (they are sorted afterwards)."""
    stops: dict[Any, str] = {}
    iterations = _Iterations(histories, journal, unordered)
    for record in records:
        kind = record.get("type")
        learner_id = record.get("learner_id")
        if kind == "iteration":
            state = record.get("state")
            if not isinstance(state, dict):
                state = {}
            iterations.add(state.get("learner_id", learner_id), state, record.get("task_seconds"))
        elif kind == "task":
            _history(histories, learner_id, journal).tasks.append(record)
        elif kind == "stop":
            stops[learner_id] = str(record.get("reason") or UNFINISHED)
        elif kind == "interrupted":
            stops.setdefault(learner_id, INTERRUPTED)
        elif kind in ("start", "resume"):
            stops.pop(learner_id, None)
            _history(histories, learner_id, journal).journal = journal
    iterations.finish()
    for learner_id, reason in stops.items():
        if learner_id in histories:
            histories[learner_id].status = reason


def _read(directory: str, full: bool, histories: dict[Any, LearnerHistory],
          unordered: set[Any]) -> tuple[list[dict[str, Any]], list[float]]:
    """Add one journal directory's iterations to ``histories``: its summary, or with
    ``full=False`` its curve when it has an up-to-date one. Returns its records (without the curve's
    iteration rows) and the first and last time of those rows (else an empty list)."""
    journal = os.path.join(directory, JOURNAL_NAME)
    if full or not curve_is_current(directory):
        summary = list(read_summary(directory))
        _collect(histories, summary, journal, unordered)
        return summary, []
    records: list[dict[str, Any]] = []
    rows: list[list[Any]] = []
    for line in read_curve(directory):
        if isinstance(line, dict):
            records.append(line)
        else:
            rows.append(line)
    times = _collect_rows(histories, rows, journal, unordered, directory)
    _collect(histories, records, journal, unordered)
    return records, times


def _collect_rows(histories: dict[Any, LearnerHistory], rows: list[list[Any]], journal: str, unordered: set[Any],
                  directory: str) -> list[float]:
    """:func:`_collect` for the iteration rows of a curve (:func:`rose.journal.curve_row`),
    each made a cut-down state; returns the first and last time of the rows."""
    size = len(CURVE_FIELDS)
    iterations = _Iterations(histories, journal, unordered)
    first_time = last_time = None
    for row in rows:
        if len(row) != size:
            logger.warning("skipping a row of %s with %d fields (expected %d: %s)", os.path.join(directory, CURVE_NAME),
                           len(row), size, ", ".join(CURVE_FIELDS))
            continue
        moment, learner_id, seconds, number, name, value, threshold, stop, labeled, label = row
        state = {"iteration": number, "metric_name": name, "metric_value": value, "metric_threshold": threshold,
                 "should_stop": stop, "learner_id": learner_id, "labeled_count": labeled}
        if label is not None:
            state["learner_label"] = label
        iterations.add(learner_id, state, seconds)
        if moment is not None and _finite(moment):
            if first_time is None or moment < first_time:
                first_time = moment
            if last_time is None or moment > last_time:
                last_time = moment
    iterations.finish()
    return [] if first_time is None or last_time is None else [first_time, last_time]


class _Iterations:
    """The iteration states of one journal, per learner, as they are read: the last state of
    each iteration wins, and ``unordered`` gets the learners whose iterations did not arrive
    in ascending order (or that already had states from another journal)."""

    def __init__(self, histories: dict[Any, LearnerHistory], journal: str, unordered: set[Any]) -> None:
        self.histories, self.journal, self.unordered = histories, journal, unordered
        self.seen: dict[Any, dict[Any, dict[str, Any]]] = {}  # per learner: iteration -> its last state
        self.last: dict[Any, int] = {}  # per learner: the highest iteration number so far

    def add(self, learner_id: Any, state: dict[str, Any], seconds: Any) -> None:
        """Keep ``state`` as its learner's iteration ``state["iteration"]`` (and its task seconds)."""
        states = self.seen.get(learner_id)
        if states is None:
            history = _history(self.histories, learner_id, self.journal)
            states = self.seen[learner_id] = {i.get("iteration"): i for i in history.iterations}
            if states:
                self.unordered.add(learner_id)  # states from another journal come first
        number = state.get("iteration")
        if number not in states:
            if type(number) is int and number > self.last.get(learner_id, -1):
                self.last[learner_id] = number
            else:
                self.unordered.add(learner_id)
        states[number] = state
        if seconds is not None and _finite(seconds):
            self.histories[learner_id].seconds[number] = float(seconds)

    def finish(self) -> None:
        """Hand each learner's states to its history."""
        for learner_id, by_number in self.seen.items():
            self.histories[learner_id].iterations = list(by_number.values())


def _history(histories: dict[Any, LearnerHistory], learner_id: Any, journal: str) -> LearnerHistory:
    history = histories.get(learner_id)
    if history is None:
        history = histories[learner_id] = LearnerHistory(learner_id=learner_id, journal=journal)
    return history


def _status(records: list[dict[str, Any]], top_id: Any,
            times: list[float]) -> tuple[str, float | None, float | None]:
    """The campaign's status (from its top learner's records), first and last time of the
    records and ``times``."""
    status = UNFINISHED
    started = min(times) if times else None
    ended = max(times) if times else None
    for record in records:
        moment = record.get("time")
        if moment is not None and _finite(moment):
            if started is None or moment < started:
                started = moment
            if ended is None or moment > ended:
                ended = moment
        if record.get("learner_id") != top_id:
            continue
        kind = record.get("type")
        if kind == "stop":
            status = str(record.get("reason") or UNFINISHED)
        elif kind == "interrupted":
            status = INTERRUPTED
        elif kind in ("start", "resume"):
            status = UNFINISHED
    return status, started, ended


def _finite(value: Any) -> TypeGuard[int | float]:
    kind = type(value)
    if kind is float:  # the common cases first: called for every iteration of a long campaign
        return math.isfinite(value)
    if kind is int:
        return True
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, 0)
    if isinstance(value, (int, float)):
        return (1, value)
    return (2, str(value))
