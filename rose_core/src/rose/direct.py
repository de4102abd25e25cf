"""Tasks called directly, as in ROSE 0.3's custom loops: submitted at once, awaitable, journaled.

A decorated task is also a function: ``sim = simulation()`` submits the task through the
learner's engine at once and returns an :class:`asyncio.Task` (await it for the result);
``train = training(sim)`` waits for ``sim`` and then submits ``training`` with ``sim``'s
result in its place. ROSE resolves such dependencies itself (it awaits the awaitables among
the arguments before submitting), never through asyncflow's polling of futures. A
criterion called this way gives ``(should_stop, value)`` when awaited::

    for _ in range(10):
        sim = simulation()
        train = training(sim)
        picked = select(sim, train)
        stop, value = await check_accuracy(picked)
        if stop:
            break

Outside a running ``start()``, on a learner without a policy of its own (the base
``Learner`` of a custom loop), the first call opens a campaign of its own in the learner's
directory: its tasks are journaled like any other (each criterion call ends one iteration,
which trackers see), and ``await learner.shutdown()`` (or the end of the process) records its
stop. Such a loop is not resumable: a loop that resumes is a learner (``prepare`` and
``evaluate``, see docs/plugins/writing-a-policy.md). Inside a running campaign a direct call
runs the task as part of it.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import weakref
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rose import fingerprint
from rose.criterion import metric_of
from rose.launch import open_direct_campaign
from rose.metrics import compare

if TYPE_CHECKING:
    from rose.campaign import Campaign
    from rose.learner import Learner
    from rose.tasks import CriterionSpec, TaskSpec

__all__ = ["call_criterion", "call_task", "close"]

logger = logging.getLogger("rose.direct")

_OPEN: weakref.WeakKeyDictionary[Any, Campaign] = weakref.WeakKeyDictionary()


def _open(learner: Learner) -> Campaign:
    campaign = open_direct_campaign(learner)
    weakref.finalize(learner, _finish, campaign)
    return campaign


def _finish(campaign: Campaign) -> None:
    reason = "criterion_met" if campaign.learner_met else "stopped"  # type: ignore[attr-defined]
    campaign.end(reason)
    campaign.finish_now(None, reason)


def _campaign(learner: Learner) -> Campaign | None:
    """The direct campaign of ``learner`` (opened on first use), None inside a running ``start()``."""
    campaign = _OPEN.get(learner)
    running = learner.running_campaign
    if running is not None and running is not campaign:
        return None
    if campaign is None and _implements_evaluate(learner):
        return None  # a learner's own task called before its start() (labelling a hold-out set...): not journaled
    if campaign is None:
        campaign = _OPEN[learner] = _open(learner)
        campaign.learner_met = False  # type: ignore[attr-defined]
    return campaign


def _implements_evaluate(learner: Learner) -> bool:
    """True for a learner with a loop of its own: it implements ``evaluate``, or ``launch`` (a
    parallel learner fans out); a 0.3 custom loop uses the base ``Learner`` and has neither."""
    cls = type(learner)
    return (getattr(cls.evaluate, "__qualname__", "") != "Learner.evaluate"
            or getattr(cls.launch, "__qualname__", "") != "Learner.launch")


async def _run(learner: Learner, spec: TaskSpec, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
    values = [*args, *kwargs.values()]
    waiting = [i for i, value in enumerate(values) if inspect.isawaitable(value)]
    if waiting:  # dependencies: the awaitable arguments are awaited here, concurrently, before the task is submitted
        for i, value in zip(waiting, await asyncio.gather(*(values[i] for i in waiting))):
            values[i] = value
    # without any, the task is submitted in the call's first step (a gather took three loop turns)
    resolved_args, resolved_kwargs = values[: len(args)], dict(zip(kwargs, values[len(args):]))
    campaign = _campaign(learner)
    if campaign is None:  # inside a running campaign: the task runs as part of it
        return await learner.submit(spec, resolved_args, resolved_kwargs)
    key = fingerprint.of_call(resolved_args, resolved_kwargs, learner.task_cwd)
    return await learner.submit(spec, resolved_args, resolved_kwargs, iteration=campaign.iteration, key=key)


def call_task(learner: Learner, spec: TaskSpec, args: Sequence[Any], kwargs: Mapping[str, Any]) -> asyncio.Task[Any]:
    """Submit ``spec`` now (after the awaitables among ``args``/``kwargs``); await the returned task."""
    return asyncio.ensure_future(_run(learner, spec, args, kwargs))


async def _criterion(learner: Learner, spec: CriterionSpec, args: Sequence[Any],
                     kwargs: Mapping[str, Any]) -> tuple[bool, float]:
    value = metric_of(learner, await _run(learner, spec, args, kwargs))
    met = compare(value, spec.threshold, spec.operator)
    campaign = _OPEN.get(learner)
    if campaign is not None and learner.running_campaign is campaign:
        state = learner.build_iteration_state(campaign.iteration, value, met)
        campaign.iteration_done(state, store_carry=False)
        campaign.iteration += 1
        campaign.learner_met = met  # type: ignore[attr-defined]
    return met, value


def call_criterion(
    learner: Learner, spec: CriterionSpec, args: Sequence[Any], kwargs: Mapping[str, Any]
) -> asyncio.Task[tuple[bool, float]]:
    """Run the criterion now (after its awaitable arguments); awaiting gives ``(should_stop, value)``."""
    return asyncio.ensure_future(_criterion(learner, spec, args, kwargs))


def close(learner: Learner) -> None:
    """Record the stop of ``learner``'s direct campaign, if it has one (``learner.shutdown()`` calls it)."""
    campaign = _OPEN.pop(learner, None)
    if campaign is not None:
        _finish(campaign)
