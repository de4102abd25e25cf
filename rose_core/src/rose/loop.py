"""The campaign loop: the one place that runs a learner's iterations.

A policy implements ``prepare(step)`` and ``evaluate(step)`` (see :mod:`rose.steps`). The loop
owns everything else, the same way for every policy: the journal and trackers (through the
:class:`~rose.campaign.Campaign`), ``set_next_config`` (taking effect at the next iteration),
``stop()``, a ``break`` or cancellation by the consumer, signals, ``max_iter`` and ``rose run
--max-iter``, the stop reason and resume. A resumed campaign continues at the first
unfinished iteration with the carry stored after the last finished one; tasks that finished
before the interruption are not run again: :meth:`~rose.steps.Step.run` returns their
recorded results.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from rose import results
from rose.campaign import Campaign
from rose.deadline import DeadlineReached, stop_reason_for_termination, warned, within
from rose.errors import RoseError
from rose.metrics import check_metric_value
from rose.resume import ResumePoint
from rose.state import IterationState
from rose.steps import Outcome, Plan, Step

if TYPE_CHECKING:
    from rose.learner import Learner

__all__ = ["check_resumable", "run_iterations"]

logger = logging.getLogger("rose.campaign")


async def run_iterations(learner: Learner, plan: Plan, campaign: Campaign) -> AsyncIterator[IterationState]:
    """The loop: ``prepare`` then ``evaluate`` per iteration, states yielded as they finish."""
    point = campaign.point
    config = plan.config
    carry: Any = None
    start_at = 0
    replay_until = 0
    if point is not None and point.next_iteration > 0:
        start_at, carry, replay_until = _resume_position(learner, point)
    final: IterationState | None = learner.get_current_state()
    reason = "error"
    max_iter = plan.max_iter
    cap = campaign.cap
    current = start_at
    try:
        if point is not None and _already_done(learner, point, max_iter):
            reason = point.stop_reason or "max_iter_reached"
            return
        if point is not None and point.next_iteration > 0:  # the lifecycle logger: `rose run` shows it
            logging.getLogger("rose.lifecycle.campaign").info(
                "[%s] resuming %s at iteration %d (%d already done)", learner.label, learner.run_dir,
                point.next_iteration + 1, point.next_iteration)
        i = start_at
        current = i
        while max_iter == 0 or i < max_iter:
            current = i
            silent = i < replay_until
            if learner.is_stopped and not silent:
                reason = "stopped"
                return
            if not silent and _out_of_time(learner, campaign, i):
                reason = "deadline"
                return
            config = learner.take_pending_config(config)
            learner.clear_state()
            began = time.monotonic()
            with learner.replaying(silent):
                work = _iteration(learner, plan, i, config, carry)
                if campaign.deadline is None or silent:
                    outcome = await work
                else:
                    try:
                        outcome = await within(campaign.deadline, work)
                    except DeadlineReached as exc:
                        logger.warning("[%s] iteration %d cancelled: %s; it runs again on resume", learner.label, i, exc)
                        campaign.write("interrupted", iteration=i, reason="deadline")
                        reason = "deadline"
                        return
                    campaign.durations.add(time.monotonic() - began)
            if not isinstance(outcome, Outcome):
                raise TypeError(
                    f"{type(learner).__name__}.evaluate() must return a rose.Outcome, got {outcome!r}"
                )
            carry = outcome.carry
            value = check_metric_value(outcome.metric_value, _metric_name(learner), _metric_source(learner, i))
            state = learner.build_iteration_state(i, value, outcome.should_stop, config)
            if silent:
                i += 1
                continue
            final = state
            campaign.iteration = i + 1  # iterations the campaign has finished, from its first (a resume included)
            campaign.iteration_done(state, carry)
            yield state
            if state.should_stop:
                reason = "criterion_met"
                return
            if learner.is_stopped:
                reason = "stopped"
                return
            if cap and i + 1 >= cap:  # `rose run --max-iter N`
                reason = "max_iter_reached"
                return
            i += 1
        reason = "max_iter_reached"
    except (GeneratorExit, asyncio.CancelledError, KeyboardInterrupt) as exc:
        # SIGTERM as the allocation ends is a `deadline` stop (rose.deadline); otherwise `stopped`
        reason = stop_reason_for_termination(campaign.deadline) if isinstance(exc, asyncio.CancelledError) else "stopped"
        if campaign.reason is None:
            campaign.write("interrupted", iteration=current)
        raise
    finally:
        if learner.is_stopped and reason != "error":
            reason = "stopped"
        await campaign.cancel_background()
        campaign.end(reason)
        await campaign.finish(final, reason)


async def _iteration(learner: Learner, plan: Plan, i: int, config: Any, carry: Any) -> Outcome:
    """``prepare`` (unless skipped) then ``evaluate`` of iteration ``i``."""
    step = Step(iteration=i, config=config, inputs=carry, options=plan.options, learner=learner)
    if not (i == 0 and plan.skip_pre_loop):
        step = Step(iteration=i, config=config, inputs=await learner.prepare(step), options=plan.options, learner=learner)
    return await learner.evaluate(step)



def _metric_name(learner: Learner) -> str | None:
    return learner.criterion.metric_name if learner.criterion is not None else None


def _metric_source(learner: Learner, iteration: int) -> str:
    criterion = learner.criterion
    task = getattr(criterion.func, "__name__", criterion.name) if criterion is not None else None
    return (f"{type(learner).__name__}.evaluate() (learner {learner.label}, iteration {iteration}"
            + (f", criterion task {task!r})" if task else ")"))

def _out_of_time(learner: Learner, campaign: Campaign, iteration: int) -> bool:
    """True when iteration ``iteration`` must not start: the allocation's warning signal came, or
    what such an iteration takes (a high quantile of the past ones) no longer fits the deadline."""
    deadline = campaign.deadline
    if warned():
        logger.warning("[%s] stopping before iteration %d: the allocation ends soon (warning signal)", learner.label,
                       iteration)
        return True
    if campaign.fits_next_iteration():
        return False
    assert deadline is not None
    expected = campaign.durations.expected()
    logger.warning(
        "[%s] stopping before iteration %d: %s expected, %.0f s left before the deadline %s (margin %g s); "
        "resume the campaign to continue", learner.label, iteration,
        f"{expected:.0f} s" if expected is not None else "an iteration", max(deadline.left(), 0.0),
        deadline.describe(), deadline.margin,
    )
    return True


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
