"""The campaign loop: the one place that runs a learner's iterations.

A learning policy (a :class:`~rose.learner.Learner` subclass) implements two methods and
nothing else of the loop:

* ``async def prepare(self, step) -> inputs`` - the work that feeds iteration
  ``step.iteration`` (simulation then training for active learning; environments then the
  update for reinforcement learning). ``step.inputs`` is what the previous iteration handed
  over (its :attr:`Outcome.carry`; ``None`` before the first iteration). Runs before every
  iteration, except the first one with ``start(skip_pre_loop=True)``.
* ``async def evaluate(self, step) -> Outcome`` - the iteration's own work and its stop
  criterion. ``step.inputs`` is what ``prepare`` returned.

The loop owns everything else, the same way for every policy: validation before anything
runs, the journal, trackers, ``set_next_config`` (taking effect at the next iteration),
``stop()``, a ``break`` or cancellation by the consumer, signals, ``max_iter`` and
``rose run --max-iter``, the stop reason (written here only) and resume. A resumed campaign
continues at the first unfinished iteration with the carry stored after the last finished
one; tasks that finished before the interruption are not run again: :meth:`Step.run` returns
their recorded results.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any

from attrs import field, frozen

from rose import overrides, results
from rose.errors import RoseError
from rose.journal import Journal, ResumePoint
from rose.state import IterationState
from rose.tracker_hub import TrackerHub

if TYPE_CHECKING:
    from rose.config import LearnerConfig
    from rose.learner import Learner
    from rose.tracking import PipelineManifest

__all__ = ["CampaignRecord", "CampaignStream", "Outcome", "Plan", "Step", "run_iterations"]

logger = logging.getLogger("rose.campaign")

@frozen(kw_only=True)
class Outcome:
    """What a policy's ``evaluate`` returns for one iteration.

    ``metric_value`` is the criterion's value (None without a criterion), ``should_stop``
    True when the campaign has reached its goal (reported as ``criterion_met``), ``carry``
    what the next iteration's ``prepare`` receives as ``step.inputs``. Keep everything the
    next iteration needs in ``carry``: it is stored (losslessly, see :mod:`rose.results`)
    after every iteration, so a resumed campaign continues with exactly it.
    """

    metric_value: float | None = None
    should_stop: bool = False
    carry: Any = None


@frozen(kw_only=True)
class Step:
    """One phase of one iteration, as a policy sees it.

    ``iteration`` counts from 0, ``config`` is the learner's :class:`~rose.LearnerConfig`
    in force (or None), ``inputs`` what the previous phase handed over, ``options`` the
    policy's own ``start()`` options (``skip_simulation_step``, ``model_names``...).
    """

    iteration: int
    config: LearnerConfig | None
    inputs: Any = None
    options: Mapping[str, Any] = field(factory=dict)
    learner: Learner = field(repr=False)

    # run() and criterion() return the learner's coroutine itself (await it, or gather it)
    # instead of wrapping it in one more: a frame less per task in flight (benchmarks/, scenario 7)
    def run(self, task: str, *deps: Any, record_state: bool = True, **extra_kwargs: Any) -> Coroutine[Any, Any, Any]:
        """Run registered task ``task`` for this iteration: ``result = await step.run(...)``.

        Its arguments are the configuration's ``args`` then ``deps`` (upstream results); its
        keyword arguments the configuration's ``kwargs`` plus ``extra_kwargs``. A dict result
        is recorded as state of this iteration unless ``record_state=False``.
        """
        return self.learner.run_task(
            task, iteration=self.iteration, config=self.config, deps=deps,
            extra_kwargs=extra_kwargs or None, record_state=record_state,
        )

    def criterion(self, *deps: Any, **extra_kwargs: Any) -> Coroutine[Any, Any, tuple[bool, float | None]]:
        """Run the stop criterion (if any): ``met, value = await step.criterion(...)``;
        ``(False, None)`` without one."""
        return self.learner.check_criterion(self.iteration, self.config, deps, extra_kwargs=extra_kwargs or None)


@frozen(kw_only=True)
class Plan:
    """How ``start()`` was called: what the loop needs besides the learner itself."""

    max_iter: int = 0
    skip_pre_loop: bool = False
    config: LearnerConfig | None = None
    resume: Any = None
    options: Mapping[str, Any] = field(factory=dict)
    manifest: Mapping[str, Any] = field(factory=dict)


class CampaignRecord:
    """The journal and trackers of one campaign, and the only writer of its stop reason.

    ``open()`` locks the directory and records the start (or resume) before anything runs;
    ``iteration(state, carry)`` records one finished iteration; ``finish(final, reason)``
    records the stop once and tells the trackers (waiting a bounded time for them).
    """

    def __init__(self, learner: Learner, manifest: PipelineManifest, point: ResumePoint | None, *, journal: bool = True) -> None:
        self.learner = learner
        self.manifest = manifest
        self.point = point
        # a learner of a parallel campaign (it has an id) lives inside its parent's locked directory
        self.journal = Journal(learner.run_dir, child=learner.learner_id is not None) if journal else None
        self.hub = TrackerHub([*learner.trackers, *overrides.campaign_trackers(learner)])
        self.reason: str | None = None
        self.started = time.monotonic()
        self.cap = overrides.current().max_iter  # `rose run --max-iter N`, read once per campaign

    def open(self) -> None:
        """Lock the directory, record the start (or resume) and start the trackers."""
        if self.journal is not None:
            self.journal.open()
            try:
                if self.point is not None:
                    self.journal.write("resume", learner_id=self.learner.learner_id,
                                       next_iteration=self.point.next_iteration, manifest=self.manifest.to_dict())
                else:
                    self.journal.write("start", learner_id=self.learner.learner_id, manifest=self.manifest.to_dict())
            except BaseException:
                self.journal.close()
                raise
        self.hub.start(self.manifest)
        if self.hub.wants_tasks:  # building an event per task state costs a fast loop ~4% otherwise
            self.learner.on_task_event(self.hub.task)

    def write(self, record_type: str, /, **fields: Any) -> None:
        """Append a record to the journal (no-op without one); task lines are written in groups."""
        if self.journal is not None:
            self.journal.write(record_type, grouped=record_type == "task", learner_id=self.learner.learner_id, **fields)

    def iteration(self, state: IterationState, carry: Any = None, *, store_carry: bool = True) -> None:
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
        self.hub.iteration(state)

    def _stop_record(self, final: IterationState | None, reason: str) -> bool:
        if self.reason is not None:
            return False
        self.reason = reason
        self.learner.remove_task_listener(self.hub.task)
        logger.info(
            "[%s] finished: %s after %s iteration(s) in %.1f s", self.learner.label, reason,
            (final.iteration + 1) if final else 0, time.monotonic() - self.started,
        )
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
        if self._stop_record(final, reason):
            await self.hub.close(final, reason)

    def finish_now(self, final: IterationState | None, reason: str) -> None:
        """:meth:`finish` without the event loop (a campaign abandoned by ``break``)."""
        if self._stop_record(final, reason):
            self.hub.close_now(final, reason)


class CampaignStream:
    """What ``async for state in learner.start(...)`` iterates over.

    Ending the iteration early (``break``) ends the campaign at once: the stop is recorded
    and the trackers have their ``on_stop(..., "stopped")`` before the next line of the
    user's code runs; pending tasks are cancelled right after.
    """

    def __init__(self, states: AsyncIterator[IterationState], on_abandon: Callable[[], None]) -> None:
        self._states = states
        self._on_abandon = on_abandon
        self._closed = False

    def __aiter__(self) -> CampaignStream:
        return self

    async def __anext__(self) -> IterationState:
        try:
            return await self._states.__anext__()
        except BaseException:
            self._closed = True
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


async def run_iterations(learner: Learner, plan: Plan, record: CampaignRecord) -> AsyncIterator[IterationState]:
    """The loop: ``prepare`` then ``evaluate`` per iteration, states yielded as they finish."""
    point = record.point
    config = plan.config
    carry: Any = None
    start_at = 0
    replay_until = 0
    if point is not None and point.next_iteration > 0:
        start_at, carry, replay_until = _resume_position(learner, point)
    final: IterationState | None = learner.get_current_state()
    reason = "error"
    max_iter = plan.max_iter
    current = start_at
    try:
        if point is not None and _already_done(learner, point, max_iter):
            reason = point.stop_reason or "max_iter_reached"
            return
        if point is not None and point.next_iteration > 0:
            logger.info("[%s] resuming %s at iteration %d", learner.label, learner.run_dir, point.next_iteration)
        i = start_at
        current = i
        while max_iter == 0 or i < max_iter:
            current = i
            silent = i < replay_until
            if learner.is_stopped and not silent:
                reason = "stopped"
                return
            config = learner.take_pending_config(config)
            learner.clear_state()
            with learner.replaying(silent):
                step = Step(iteration=i, config=config, inputs=carry, options=plan.options, learner=learner)
                if not (i == 0 and plan.skip_pre_loop):
                    step = Step(iteration=i, config=config, inputs=await learner.prepare(step),
                                options=plan.options, learner=learner)
                outcome = await learner.evaluate(step)
            if not isinstance(outcome, Outcome):
                raise TypeError(
                    f"{type(learner).__name__}.evaluate() must return a rose.Outcome, got {outcome!r}"
                )
            carry = outcome.carry
            state = learner.build_iteration_state(i, outcome.metric_value, outcome.should_stop, config)
            if silent:
                i += 1
                continue
            final = state
            record.iteration(state, carry)
            yield state
            if state.should_stop:
                reason = "criterion_met"
                return
            if learner.is_stopped:
                reason = "stopped"
                return
            if record.cap and i + 1 >= record.cap:  # `rose run --max-iter N`
                reason = "max_iter_reached"
                return
            i += 1
        reason = "max_iter_reached"
    except (GeneratorExit, asyncio.CancelledError, KeyboardInterrupt):
        reason = "stopped"
        if record.reason is None:
            record.write("interrupted", iteration=current)
        raise
    finally:
        if learner.is_stopped and reason != "error":
            reason = "stopped"
        await learner.cancel_background()
        learner.end_campaign(reason)
        await record.finish(final, reason)


def _resume_position(learner: Learner, point: ResumePoint) -> tuple[int, Any, int]:
    """``(first iteration to run, its inputs, replay silently up to)`` for a resumed campaign.

    The carry stored after the last finished iteration is the next iteration's input. When
    it could not be stored, the campaign goes back to the last iteration whose carry was
    stored (or the start) and replays the iterations after it from the journal, silently.
    """
    last = point.next_iteration - 1
    for iteration in range(last, -1, -1):
        if iteration not in point.carries or not results.is_stored(point.carries[iteration]):
            continue
        stored = point.carries[iteration]
        try:
            carry = results.decode(stored, learner.run_dir)
        except (OSError, ValueError) as exc:
            logger.warning("[%s] cannot read the stored hand-over of iteration %d (%s)", learner.label, iteration, exc)
            continue
        return iteration + 1, carry, point.next_iteration
    logger.warning("[%s] replaying the campaign from its start: no stored hand-over could be read", learner.label)
    return 0, None, point.next_iteration


def _already_done(learner: Learner, point: ResumePoint, max_iter: int) -> bool:
    if point.finished:
        logger.warning(
            "[%s] campaign %s already met its stop criterion at iteration %d: nothing to resume",
            learner.label, point.run_dir, point.next_iteration - 1,
        )
        return True
    if max_iter and point.next_iteration >= max_iter:
        logger.warning(
            "[%s] campaign %s already ran %d iteration(s), max_iter=%d: nothing to resume (pass a larger "
            "max_iter to continue it)", learner.label, point.run_dir, point.next_iteration, max_iter,
        )
        return True
    return False


def check_resumable(learner: Learner, point: ResumePoint) -> None:
    """Refuse to resume a directory another kind of learner wrote (the error names both)."""
    mine = type(learner).__name__
    if point.learner_type and point.learner_type != mine:
        raise RoseError(
            f"cannot resume {point.run_dir} with a {mine}: that campaign was written by a "
            f"{point.learner_type}. Resume it with a {point.learner_type}, or start a new campaign."
        )


def reap_processes(point: ResumePoint) -> None:
    """End task processes a killed campaign left running, before anything runs again.

    Each is identified by its process group and the start time of its leader, so a process id
    that the system has since given to another program is left alone.
    """
    import signal

    for record in point.processes:
        pgid, pid, started = record.get("pgid"), record.get("pid"), record.get("start_time")
        if not isinstance(pgid, int) or not isinstance(pid, int) or pgid <= 1:
            continue
        if started is not None and _start_time(pid) != started:
            continue
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            continue
        logger.warning(
            "ended task %r (process group %d) of iteration %s, still running from the interrupted campaign",
            record.get("task"), pgid, record.get("iteration"),
        )


def _start_time(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return None
    try:
        return int(text[text.rfind(")") + 2:].split()[19])
    except (IndexError, ValueError):
        return None
