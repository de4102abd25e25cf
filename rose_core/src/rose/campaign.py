"""One campaign (run) of a learner: :class:`Campaign` owns its state and is the only writer of its records.

``learner.start(...)`` creates a :class:`Campaign`; the loop (:mod:`rose.loop`) and the
learner's task runs (:mod:`rose.taskrun`) use it. It holds what belongs to one run and not
to the learner: the journal and its lock, the trackers, the resume point, the effective
``max_iter`` (``rose run --max-iter`` applied, read once here), the deadline, the options
``start()`` was called with, the iteration counter, the tasks started in the background and
the stop reason (written here only). The learner keeps a reference to its latest campaign
so ``learner.stop_reason`` and ``learner.get_max_iterations()`` answer after the run.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from rose import overrides, results
from rose.allocation import allocation_record
from rose.deadline import (
    Deadline,
    DeadlineError,
    Durations,
    durations_from_summary,
    listen_for_warning,
    stopped_at_deadline,
)
from rose.errors import RoseError
from rose.flights import Flights
from rose.interrupts import exit_for_signal
from rose.journal import Journal
from rose.options import options_record
from rose.resume import ResumePoint
from rose.state import IterationState
from rose.steps import Outcome, Plan, Step
from rose.tracker_hub import TrackerHub

if TYPE_CHECKING:
    from rose.learner import Learner
    from rose.tracking import PipelineManifest

__all__ = ["Campaign", "CampaignRecord", "CampaignStream", "Outcome", "Plan", "Step", "effective_max_iter"]

logger = logging.getLogger("rose.campaign")


def effective_max_iter(max_iter: int, cap: int | None) -> int:
    """``max_iter`` with ``rose run --max-iter`` (``cap``) applied: the smaller limit; 0 is no limit."""
    return min(max_iter, cap) if max_iter and cap else (max_iter or cap or 0)


class Campaign:
    """One run of ``learner``: its records, trackers, limits and stop reason.

    ``open(manifest)`` locks the directory and records the start (or resume) before anything
    runs; ``iteration(state, carry)`` records one finished iteration; ``finish(final,
    reason)`` records the stop once and tells the trackers (waiting a bounded time for them).
    """

    def __init__(self, learner: Learner, plan: Plan, *, journal: bool = True, lock: bool = True) -> None:
        self.learner = learner
        #: lock the directory while open (tasks called directly, rose.direct, are never resumed: no lock)
        self.lock = lock
        self.plan = plan
        self.options = dict(plan.options)
        #: `rose run --max-iter N`, read once per campaign (the loop of every learner stops at it)
        self.cap = overrides.current().max_iter
        #: the limit in force: ``max_iter`` with the cap applied (a child reports its own ``max_iter``)
        self.max_iter = effective_max_iter(plan.max_iter, self.cap if learner.learner_id is None else None)
        #: when the campaign must be done by (None: no deadline), and how long its work takes
        self.deadline: Deadline | None = plan.deadline
        self.durations = Durations()
        self.task_durations: dict[str, Durations] = {}
        self.point: ResumePoint | None = None
        self.manifest: PipelineManifest | None = None
        #: iterations the campaign has finished, from its first (a resumed campaign counts the earlier ones)
        self.iteration = 0
        self.replaying = False
        self.stop_reason: str | None = None
        self.background: set[asyncio.Task[Any]] = set()
        self._journaled = journal
        self.journal: Journal | None = None
        #: the tasks in flight, the long ones journaled as ``running`` records (None: no journal)
        self.flights: Flights | None = None
        self.hub: TrackerHub | None = None
        self.reason: str | None = None  # as recorded in the journal (set once, by the stop record)
        self.started = time.monotonic()

    @property
    def active(self) -> bool:
        """True from :meth:`open` until the loop has ended the campaign."""
        return self.hub is not None and self.stop_reason is None

    def open(self, manifest: PipelineManifest) -> None:
        """Lock the directory, record the start (or resume) and start the trackers."""
        learner = self.learner
        self.manifest = manifest
        # a learner of a parallel campaign (it has an id) lives inside its parent's locked directory
        self.journal = (Journal(learner.run_dir, child=learner.learner_id is not None or not self.lock)
                        if self._journaled else None)
        self.hub = TrackerHub([*learner.trackers, *overrides.campaign_trackers(learner)])
        if self.journal is not None:
            self.journal.open()
            self.flights = Flights(self.journal, learner.learner_id)
            options: dict[str, Any] = {} if self.plan.start_options is None else {
                "options": options_record(self.plan.start_options)}
            try:
                if self.point is not None:
                    self.journal.write("resume", learner_id=learner.learner_id,
                                       next_iteration=self.point.next_iteration, manifest=manifest.to_dict(), **options)
                else:
                    self.journal.write("start", learner_id=learner.learner_id, manifest=manifest.to_dict(), **options)
                allocation = allocation_record(deadline=self.deadline) if learner.learner_id is None else None
                if allocation is not None:
                    fields = {k: v for k, v in allocation.items() if k not in ("type", "time")}
                    self.journal.write("allocation", learner_id=None, **fields)
            except BaseException:
                self.journal.close()
                raise
        if learner.learner_id is None:
            listen_for_warning()  # Slurm's `--signal=B:USR1@N`: stop at the next iteration (rose.deadline)
        self.hub.start(manifest)
        if self.hub.wants_tasks:  # building an event per task state costs a fast loop ~4% otherwise
            learner.on_task_event(self.hub.task)

    def write(self, record_type: str, /, **fields: Any) -> None:
        """Append a record to the journal (no-op without one); task lines are written in groups."""
        if record_type == "task":
            self._time_task(fields)
        if self.journal is not None:
            self.journal.write(record_type, grouped=record_type == "task", learner_id=self.learner.learner_id, **fields)

    def write_task(self, iteration: int | None, key: str, entry: dict[str, Any]) -> None:
        """Append one task attempt's line (grouped): ``write("task", iteration=..., key=..., **entry)``."""
        self._time_task(entry)
        if self.journal is not None:
            self.journal.write_task(self.learner.learner_id, iteration, key, entry)

    def _time_task(self, entry: dict[str, Any]) -> None:
        """With a deadline, a done task's seconds join its task's durations (what planning against it reads)."""
        if self.deadline is not None and entry.get("status") == "done":
            self.task_durations.setdefault(str(entry.get("task")), Durations()).add(float(entry.get("seconds") or 0))

    def iteration_done(self, state: IterationState, carry: Any = None, *, store_carry: bool = True) -> None:
        """Record one finished iteration: the journal first (with the carry), then the trackers."""
        if self.journal is not None:
            fields: dict[str, Any] = {"state": state.to_dict(history=False)}
            if store_carry:
                try:
                    fields["carry"] = results.encode(carry, self.learner.run_dir)
                except results.Unstorable as exc:
                    logger.warning(
                        "[%s] the hand-over from iteration %d to the next cannot be stored (%s): a resume "
                        "will re-run from an earlier iteration", self.learner.label, state.iteration, exc,
                    )
            self.journal.write("iteration", learner_id=self.learner.learner_id, **fields)
        self.relay(state)

    def relay(self, state: IterationState) -> None:
        """Hand ``state`` to the trackers (a parallel parent relays its children's states)."""
        if self.hub is not None:
            self.hub.iteration(state)

    # -- the deadline (rose.deadline) -----------------------------------------------------------
    def time_records(self, summary: Any, tasks: Any = ()) -> None:
        """Learn from a resumed campaign's records how long its iterations (``summary``) and
        tasks took; a deadline the work has never fitted in is an error before anything runs."""
        if self.deadline is None:
            return
        self.durations = durations_from_summary(summary, self.learner.learner_id)
        for record in tasks:
            if record.get("type") == "task" and record.get("status") == "done":
                self.task_durations.setdefault(str(record.get("task")), Durations()).add(float(record.get("seconds") or 0))
        shortest, deadline = self.durations.shortest(), self.deadline
        if shortest is not None and not deadline.fits(shortest):
            raise DeadlineError(
                f"[{self.learner.label}] the deadline {deadline.describe()} leaves {max(deadline.left(), 0):.0f} s "
                f"(less a margin of {deadline.margin:g} s), but no iteration of this campaign has ever taken less than "
                f"{shortest:.0f} s: give a later deadline (or a longer allocation: sbatch --time)"
            )

    def fits_next_iteration(self) -> bool:
        """True without a deadline, or when the next iteration is expected to end before it."""
        return self.deadline is None or self.deadline.fits(self.durations.expected())

    def has_time_for(self, task: str) -> bool:
        """True without a deadline, or when task ``task`` is expected to end before it (a steady-state
        learner asks before each new submission)."""
        if self.deadline is None:
            return True
        durations = self.task_durations.get(task)
        return self.deadline.fits(durations.expected() if durations is not None else None)

    def in_background(self, awaitable: Awaitable[Any]) -> asyncio.Task[Any]:
        """Run ``awaitable`` alongside the campaign; :meth:`cancel_background` ends it."""
        task = asyncio.ensure_future(awaitable)
        self.background.add(task)
        task.add_done_callback(self.background.discard)
        return task

    async def cancel_background(self) -> None:
        """Cancel (and wait for) everything :meth:`in_background` started that still runs."""
        tasks = list(self.background)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def end(self, reason: str) -> None:
        """The loop ends the campaign with ``reason`` (after its last state)."""
        self.stop_reason = reason

    def _stop_record(self, final: IterationState | None, reason: str) -> bool:
        if self.reason is not None:
            return False
        self.reason = reason
        if self.hub is not None:
            self.learner.remove_task_listener(self.hub.task)
        if self.flights is not None:
            self.flights.close()
        logger.info(
            "[%s] finished: %s after %s iteration(s) in %.1f s", self.learner.label, reason,
            (final.iteration + 1) if final else 0, time.monotonic() - self.started,
        )
        if reason == "deadline" and self.learner.learner_id is None:
            stopped_at_deadline.append(self.learner.run_dir)
        if self.journal is not None:
            try:
                self.journal.write("stop", learner_id=self.learner.learner_id, reason=reason,
                                   final=final.to_dict() if final else None)
            except RoseError as exc:
                logger.error("%s", exc)
            self.journal.close()
        return True

    async def finish(self, final: IterationState | None, reason: str) -> None:
        """Record the stop (once) and wait, bounded, until every tracker has its ``on_stop``."""
        if self._stop_record(final, reason) and self.hub is not None:
            await self.hub.close(final, reason)

    def finish_now(self, final: IterationState | None, reason: str) -> None:
        """:meth:`finish` without the event loop (a campaign abandoned by ``break``)."""
        if self._stop_record(final, reason) and self.hub is not None:
            self.hub.close_now(final, reason)

    def abandon(self) -> None:
        """The consumer dropped the stream (``break``): end the campaign as ``stopped`` now."""
        self.end("stopped")
        self.finish_now(self.learner.get_current_state(), "stopped")


#: the 0.4 name of :class:`Campaign`
CampaignRecord = Campaign


class CampaignStream:
    """What ``async for state in learner.start(...)`` iterates over.

    Ending the iteration early (``break``) ends the campaign at once: the stop is recorded
    and the trackers have their ``on_stop(..., "stopped")`` before the next line of the
    user's code runs; pending tasks are cancelled right after.
    """

    def __init__(self, states: AsyncIterator[IterationState], on_abandon: Callable[[], None], *,
                 exit_on_signal: str | None = None) -> None:
        self._states = states
        self._on_abandon = on_abandon
        self._closed = False
        self._exit_on_signal = exit_on_signal  # a top-level campaign's directory: SIGTERM ends the program

    def __aiter__(self) -> CampaignStream:
        return self

    async def __anext__(self) -> IterationState:
        try:
            return await self._states.__anext__()
        except BaseException as exc:
            self._closed = True
            stop = exit_for_signal(exc, self._exit_on_signal) if self._exit_on_signal is not None else None
            if stop is not None:
                raise stop from None  # the stop is recorded: end the program cleanly (rose.interrupts)
            raise

    async def aclose(self) -> None:
        """End the campaign now (``stopped`` unless it had already ended) and cancel its tasks."""
        self._closed = True
        await self._states.aclose()  # type: ignore[attr-defined]

    def __del__(self) -> None:
        if not self._closed:
            self._closed = True
            if sys.is_finalizing():  # the interpreter is going away: imports and threads no longer work
                return
            try:
                self._on_abandon()
            except Exception:
                logger.warning("could not record the end of an abandoned campaign", exc_info=True)
