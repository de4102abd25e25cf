"""See a campaign's progress while it runs: one live row per learner.

``learner.add_tracker(rose.tracker("progress"))`` shows, for every learner, its
iteration, criterion metric (against the target), labeled count (when tasks report
``labeled_count``), the tasks running right now, elapsed time and status. On a terminal
the view is a live table drawn with ``rich`` (an optional dependency); when stdout is not
a terminal (CI logs, ``| tee``), or rich is missing, it writes one plain line per
iteration instead.

Task-level events (what is running) reach trackers that implement ``on_task(event)``;
``event`` is a dict with ``learner_id``, ``iteration``, ``task``, ``kind``, ``status``
(``running``, ``done`` or ``failed``), ``attempt`` and ``seconds``.

Iterations are shown counting from 1 (``iteration 1`` is ``state.iteration == 0``), the
way ``rose show`` and the campaign summaries count them. Under a dry run (``rose run
--dry-run`` or the ``dry-run`` backend) no task runs, so the metric values are
placeholders: they are shown as such, never as results.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Mapping
from typing import IO, Any

from attrs import define, evolve, field

from rose.engine import LIFECYCLE_LOGGER
from rose.plotting import short_metric_name  # the one metric naming rule (kept importable from here)
from rose.state import IterationState
from rose.tracking import PipelineManifest, TrackerBase

__all__ = ["LearnerProgress", "ProgressTracker", "short_metric_name"]


@define(kw_only=True)
class LearnerProgress:
    """What the view shows for one learner."""

    learner_id: Any
    label: str
    iteration: int | None = None
    metric: float | None = None
    labeled: Any = None
    running: dict[str, float] = field(factory=dict)
    tasks_done: int = 0
    status: str = "starting"
    updated: float = field(factory=time.monotonic)


class ProgressTracker(TrackerBase):
    """A tracker that shows live progress per learner (rich table, or plain lines).

    ``stream`` is where to write (default ``sys.stdout``); ``live`` forces the rich view
    on (True) or off (False), default: on when ``stream`` is a terminal and rich is
    installed. ``labels`` maps learner ids to names (default: a ``learner_label`` the
    tasks report, else ``learner <id>``); ``unit`` is appended to metric values.
    """

    def __init__(
        self,
        *,
        stream: IO[str] | None = None,
        live: bool | None = None,
        labels: Mapping[Any, str] | None = None,
        unit: str = "",
        refresh_per_second: float = 4.0,
    ) -> None:
        self.stream = stream
        self.live = live
        self.labels = dict(labels or {})
        self.unit = unit
        self.refresh_per_second = refresh_per_second
        self._lock = threading.RLock()
        self._rows: dict[Any, LearnerProgress] = {}
        self._manifest: PipelineManifest | None = None
        self._started = time.monotonic()
        self._live: Any = None
        self._reason: str | None = None
        self._dry_run = False
        self._lifecycle: str | None = None  # the last thing a backend said (a pilot queued, active...)
        self._listener = _LifecycleListener(self)

    # -- the tracker protocol -----------------------------------------------------------
    def on_start(self, manifest: PipelineManifest) -> None:
        """Reset the view for a new campaign and open the live display."""
        with self._lock:
            self._manifest = manifest
            self._rows.clear()
            self._started = time.monotonic()
            self._reason = None
            self._dry_run = _dry_run(manifest)
            count = manifest.parallel_count
            for learner_id in range(count) if isinstance(count, int) and count > 0 else [None]:
                self._row(learner_id)
        if self._use_live():
            self._open_live()
        else:
            crit = manifest.criterion
            target = (f"stop when {short_metric_name(crit.metric_name)} {crit.operator} {crit.threshold:g}"
                      if crit else "no stop criterion")
            max_iter = self._max_iter()
            limit = f", at most {max_iter} iterations" if max_iter else ""
            learners = f"{len(self._rows)} learners" if len(self._rows) > 1 else "1 learner"
            where = f" in {manifest.run_dir}" if manifest.run_dir else ""
            dry = " (dry run: no task runs, metric values are placeholders)" if self._dry_run else ""
            self._line(f"{manifest.learner_type}: {learners}, {target}{limit}{where}{dry}")
            done = _iterations_done(manifest.run_dir)
            if done:
                self._line(f"resuming at iteration {done + 1} ({done} already done, journaled in {manifest.run_dir})")

    def on_iteration(self, state: IterationState) -> None:
        """Update the learner's row (plain mode: print a line)."""
        with self._lock:
            row = self._row(state.learner_id)
            row.iteration = state.iteration
            row.metric = state.metric_value
            labeled = state.get("labeled_count")
            if labeled is not None:
                row.labeled = labeled
            label = state.get("learner_label")
            if isinstance(label, str) and label and row.learner_id not in self.labels:
                row.label = label
            max_iter = self._max_iter()
            if not self._dry_run and self._manifest is not None and _dry_run(self._manifest):
                self._dry_run = True  # the dry-run backend marks the campaign once its first task ran
            if state.should_stop:
                row.status = "criterion met"
            elif max_iter and state.iteration + 1 >= max_iter:
                row.status = "max_iter reached"
            else:
                row.status = "running"
            row.updated = time.monotonic()
            line = self._describe(row, state)
        if self._live is None:
            self._line(line)

    def on_task(self, event: Mapping[str, Any]) -> None:
        """Track which tasks of which learner are running (``status`` running/done/failed)."""
        with self._lock:
            row = self._row(event.get("learner_id"))
            task = str(event.get("task") or event.get("kind") or "task")
            if event.get("status") == "running":
                row.running[task] = time.monotonic()
                if row.status == "starting":
                    row.status = "running"
            else:
                row.running.pop(task, None)
                row.tasks_done += event.get("status") == "done"
            row.updated = time.monotonic()

    def lifecycle(self, message: str) -> None:
        """A backend's lifecycle message (``rose.lifecycle`` logger): shown in the view."""
        with self._lock:
            self._lifecycle = message
        if self._live is None and not _cli_prints_lifecycle():
            self._line(message)

    def on_stop(self, final_state: IterationState | None, reason: str) -> None:
        """Close the live display (its last frame stays) and report how the campaign ended."""
        self._listener.close()
        with self._lock:
            self._reason = reason
            for row in self._rows.values():
                row.running.clear()
                if row.status in ("starting", "running"):
                    row.status = reason.replace("_", " ")
        elapsed = _duration(time.monotonic() - self._started)
        if self._live is not None:
            live, self._live = self._live, None
            live.stop()  # draws the final frame
        else:
            self._line(f"campaign finished: {reason.replace('_', ' ')} after {elapsed}")

    # -- for other views and tests ---------------------------------------------------------
    def rows(self) -> list[LearnerProgress]:
        """A snapshot of every learner's row, in learner order."""
        with self._lock:
            return [evolve(row, running=dict(row.running)) for row in self._rows.values()]

    # -- internals ------------------------------------------------------------------------
    def _max_iter(self) -> int | None:
        """The iteration limit in force: the script's, or ``rose run --max-iter`` if lower."""
        from rose.overrides import current

        declared = self._manifest.max_iter if self._manifest else None
        cap = current().max_iter
        limits = [n for n in (declared, cap) if isinstance(n, int) and n > 0]
        return min(limits) if limits else None

    def _out(self) -> IO[str]:
        return self.stream if self.stream is not None else sys.stdout

    def _use_live(self) -> bool:
        if self.live is False:
            return False
        if self.live is None:
            isatty = getattr(self._out(), "isatty", None)
            if not (callable(isatty) and isatty()):
                return False
        try:
            import rich  # noqa: F401
        except ImportError:
            return False
        return True

    def _row(self, learner_id: Any) -> LearnerProgress:
        row = self._rows.get(learner_id)
        if row is None:
            label = self.labels.get(learner_id) or ("learner" if learner_id is None else f"learner {learner_id}")
            row = self._rows[learner_id] = LearnerProgress(learner_id=learner_id, label=label)
        return row

    def _target(self) -> str:
        crit = self._manifest.criterion if self._manifest else None
        return f"{crit.operator} {crit.threshold:g}{self.unit and ' ' + self.unit}" if crit else "-"

    def _value(self, value: float | None) -> str:
        if self._dry_run:
            return "(dry run)" if value is not None else "-"
        if value is None:
            return "-"
        return f"{value:.4g}{self.unit and ' ' + self.unit}"

    def _describe(self, row: LearnerProgress, state: IterationState) -> str:
        name = short_metric_name(state.metric_name)
        parts = [f"[{row.label}] iteration {state.iteration + 1}"]
        if state.metric_value is not None:
            parts.append(f"{name} {self._value(state.metric_value)} (target {self._target()})")
        if row.labeled is not None:
            parts.append(f"labeled {row.labeled}")
        parts.append(_duration(time.monotonic() - self._started))
        if state.should_stop:
            parts.append("criterion met (dry run)" if self._dry_run else "criterion met")
        return ", ".join(parts)

    def _line(self, text: str) -> None:
        out = self._out()
        try:
            out.write(f"[rose] {text}\n")
            out.flush()
        except (OSError, ValueError):  # a closed stream must not break the campaign
            pass

    def _open_live(self) -> None:
        from rich.console import Console
        from rich.live import Live

        console = Console(file=self.stream) if self.stream is not None else Console()
        self._live = Live(get_renderable=self._render, console=console, refresh_per_second=self.refresh_per_second,
                          transient=False)
        self._live.start()

    def _render(self) -> Any:
        from rich.table import Table

        with self._lock:
            manifest = self._manifest
            crit = manifest.criterion if manifest else None
            title = f"{manifest.learner_type if manifest else 'campaign'}"
            if crit is not None:
                title += f": stop when {short_metric_name(crit.metric_name)} {self._target()}"
            max_iter = self._max_iter()
            if max_iter:
                title += f", at most {max_iter} iterations"
            if self._dry_run:
                title += " (dry run: no task runs, metric values are placeholders)"
            table = Table(title=title, title_justify="left", expand=False)
            metric = short_metric_name(crit.metric_name if crit else None)
            for header, justify in (("learner", "left"), ("iter", "right"), (metric, "right"),
                                    ("labeled", "right"), ("running", "left"), ("status", "left")):
                table.add_column(header, justify=justify)  # type: ignore[arg-type]
            now = time.monotonic()
            for row in self._rows.values():
                running = ", ".join(f"{task} {now - since:.0f}s" for task, since in row.running.items()) or "-"
                style = "green" if row.status == "criterion met" else ("red" if row.status == "error" else "")
                table.add_row(
                    row.label,
                    "-" if row.iteration is None else str(row.iteration + 1),
                    self._value(row.metric),
                    "-" if row.labeled is None else str(row.labeled),
                    running,
                    row.status,
                    style=style,
                )
            table.caption = f"elapsed {_duration(now - self._started)}" + (
                f" | {self._lifecycle}" if self._lifecycle else "")
            return table


class _LifecycleListener(logging.Handler):
    """Hands ``rose.lifecycle`` messages (pilot states, a dashboard address) to a progress tracker."""

    def __init__(self, tracker: ProgressTracker) -> None:
        super().__init__(logging.INFO)
        self.tracker = tracker
        self.logger = logging.getLogger(LIFECYCLE_LOGGER)
        self.saved = (self.logger.level, self.logger.propagate)
        self.logger.addHandler(self)
        if self.logger.getEffectiveLevel() > logging.INFO:  # shown here, not also by the root's handlers
            self.logger.setLevel(logging.INFO)
            self.logger.propagate = False

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.tracker.lifecycle(record.getMessage())
        except Exception:  # noqa: BLE001 - a view must never break what it shows
            self.handleError(record)

    def close(self) -> None:
        if self in self.logger.handlers:
            self.logger.removeHandler(self)
            self.logger.level, self.logger.propagate = self.saved
        super().close()


def _cli_prints_lifecycle() -> bool:
    """True under ``rose run``, which prints lifecycle lines itself."""
    return any(getattr(h, "rose_lifecycle", False) for h in logging.getLogger(LIFECYCLE_LOGGER).handlers)


#: the file the dry-run backend writes into a campaign directory (it marks a dry run)
DRY_RUN_MARK = "dry-run.jsonl"


def _dry_run(manifest: PipelineManifest) -> bool:
    """True under ``rose run --dry-run`` or when the dry-run backend has marked the campaign."""
    from rose.overrides import current

    if current().dry_run:
        return True
    return bool(manifest.run_dir) and os.path.isfile(os.path.join(str(manifest.run_dir), DRY_RUN_MARK))


def _iterations_done(run_dir: str | None) -> int:
    """Iterations a resumed campaign had done (0 for a new one): the journal's latest resume record."""
    if not run_dir or not os.path.isdir(run_dir):
        return 0
    from rose.journal import read_journal
    from rose.runs import is_run_dir

    if not is_run_dir(run_dir):
        return 0
    latest: dict[str, Any] = {}
    try:
        for record in read_journal(run_dir):
            if record.get("type") in ("start", "resume") and record.get("learner_id") is None:
                latest = record
    except (OSError, ValueError):
        return 0
    done = latest.get("next_iteration") if latest.get("type") == "resume" else 0
    return done if isinstance(done, int) and done > 0 else 0


def _duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest:02d}s"
