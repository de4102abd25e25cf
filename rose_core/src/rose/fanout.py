"""N children of one policy, run at once: the fan-out behind every parallel learner.

A parallel policy is a parent learner that runs several children (a sequential policy
each) and streams their states as one sequence; :class:`ParallelCopies` is the common case
(N copies of one policy). This module does that once for all of them:

* each child gets its own directory ``<run_dir>/<prefix>-<id>`` (ids that repeat or would
  share a directory are an error naming both), its own configuration (a list with one entry
  per child, or a dict by id: :func:`configs_per_child`), its own journal and resume;
* the children's states are interleaved as they come (each tagged with its ``learner_id``)
  and reach the parent's trackers; the parent's journal records its start and stop;
* one child's failure is logged with its id and the others go on, unless ``fail_fast``;
  ``stop()`` on the parent reaches every child; a ``break`` cancels every child's tasks
  (scheduled at the break; a new start in the same directory in this process, such as a
  resume at once, starts its children only once the abandoned ones have ended);
* the parent's stop reason is ``criterion_met`` when every child met its criterion,
  ``stopped`` when any was stopped, else ``max_iter_reached``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import weakref
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar, TypeVar

from attrs import evolve, field, fields, frozen

from rose import private
from rose.campaign import Campaign, CampaignStream
from rose.config import LearnerConfig, check_learner_config
from rose.deadline import stop_reason_for_termination
from rose.errors import LearnerFailedError
from rose.journal import JOURNAL_NAME
from rose.launch import begin_campaign, check_resources, prepare_resume
from rose.learner import Learner
from rose.manifest import build_manifest
from rose.names import check_distinct
from rose.options import StartOptions, configuration
from rose.shape import check_shape
from rose.state import IterationState
from rose.steps import Plan
from rose.streaming import LearnerRun, stream_learners

__all__ = [
    "Child", "ParallelCopies", "ParallelOptions", "combined_stop_reason", "configs_manifest", "configs_per_child", "fan_out",
    "inherit", "make_child_learner",
]

logger = logging.getLogger("rose.fanout")
_L = TypeVar("_L", bound="Learner")


@frozen(kw_only=True)
class Child:
    """One child of a fan-out: its id, the learner, and how to start it.

    ``start(resume_dir)`` returns the child's run (``child.start(...)``), given its own
    directory to resume from, or None for a fresh start.
    """

    learner_id: Any
    learner: Learner
    start: Callable[[str | None], LearnerRun]


def configs_per_child(
    ids: Sequence[Any], learner_configs: Any, *, owner: str, what: str = "learner_configs", noun: str = "learner"
) -> dict[Any, LearnerConfig | None]:
    """One configuration per child from a list (in ``ids`` order) or a dict by id (missing: None)."""
    configs: dict[Any, LearnerConfig | None] = {child: None for child in ids}
    if learner_configs is None:
        return configs
    if isinstance(learner_configs, Mapping):
        unknown = [key for key in learner_configs if key not in configs]
        if unknown:
            raise ValueError(f"{owner}: {what} names unknown {noun}(s) {unknown}; the {noun}s are {list(ids)}")
        for key, config in learner_configs.items():
            configs[key] = check_learner_config(config, f"{what}[{key!r}]")
        return configs
    if isinstance(learner_configs, LearnerConfig) or isinstance(learner_configs, (str, bytes)) or not isinstance(
        learner_configs, Sequence
    ):
        raise TypeError(
            f"{owner}: {what} must be a list with one LearnerConfig (or None) per learner, or a dict by learner, "
            f"got {learner_configs!r}"
        )
    if len(learner_configs) != len(ids):
        raise ValueError(
            f"{owner}: {what} has {len(learner_configs)} entries but there are {len(ids)} {noun}s: give exactly "
            f"one LearnerConfig (or None for the base task defaults) per {noun}"
        )
    for key, config in zip(ids, learner_configs):
        configs[key] = check_learner_config(config, f"{what}[{list(ids).index(key)}]")
    return configs


def configs_manifest(configs: Mapping[Any, LearnerConfig | None]) -> dict[str, Any]:
    """The manifest entry describing each child's configuration (for ``Plan(manifest=...)``)."""
    return {"learner_configs": [c.to_dict() if c is not None else None for c in configs.values()]}


def make_child_learner(parent: Learner, cls: type[_L], learner_id: Any, directory: str) -> _L:
    """A ``cls`` learner running ``parent``'s tasks as child ``learner_id`` in ``directory``."""
    child = cls(parent.asyncflow, run_dir=directory, name=parent.name)
    inherit(child, parent, learner_id=learner_id, task_cwd=directory)
    return child


def inherit(child: Learner, parent: Learner, *, learner_id: int | str, task_cwd: str | None = None) -> None:
    """Make ``child`` a child of ``parent``: it runs the parent's tasks and criterion (the specs are
    immutable; the ``tasks`` dict is copied so siblings never change each other), reports task
    events and state updates to the parent's listeners, and has its own ``learner_id`` and
    working directory for executable tasks."""
    child.tasks = dict(parent.tasks)
    child.criterion = parent.criterion
    child.learner_id = learner_id
    child._translate = parent._translate
    if task_cwd is not None and parent.asyncflow is not None and not _places_tasks(parent, task_cwd):
        task_cwd = None  # a bare thread pool cannot place tasks: they run where it runs them
    child.task_cwd = task_cwd
    child.task_listeners = parent.task_listeners
    for callback in parent._state_callbacks:
        child.on_state_update(callback)


#: per parent learner: (its translator, the folder of its children's directories, whether its
#: backend runs tasks in a given directory): asked for the first child of a fan-out, not for each
_PLACES_TASKS: weakref.WeakKeyDictionary[Learner, tuple[Any, str, bool]] = weakref.WeakKeyDictionary()


def _places_tasks(parent: Learner, task_cwd: str) -> bool:
    """Whether ``parent``'s backend accepts ``cwd=task_cwd`` (the same answer for every sibling
    directory of the same backend: one translation per fan-out instead of one per child)."""
    translate, folder = parent.translator(), os.path.dirname(task_cwd)
    known = _PLACES_TASKS.get(parent)
    if known is not None and known[0] is translate and known[1] == folder:
        return known[2]
    accepted = parent.backend_accepts({"cwd": task_cwd})
    _PLACES_TASKS[parent] = (translate, folder, accepted)
    return accepted


def combined_stop_reason(reasons: Iterable[str | None], stopped: bool = False) -> str:
    """The parent's stop reason from its children's reasons."""
    known = [reason for reason in reasons if reason]
    if stopped:
        return "stopped"
    if "deadline" in known:  # continued in the next allocation
        return "deadline"
    if "stopped" in known:
        return "stopped"
    if known and all(reason == "criterion_met" for reason in known):
        return "criterion_met"
    return "max_iter_reached"


def fan_out(
    parent: Learner,
    plan: Plan,
    ids: Sequence[Any],
    make_child: Callable[[Any, str], Child],
    *,
    prefix: str = "learner",
    what: str = "learner",
    fail_fast: bool = False,
    tolerate: Callable[[LearnerFailedError], bool] | None = None,
    on_end: Callable[[], None] | None = None,
) -> LearnerRun:
    """Run one child per id and stream their states as the parent's campaign.

    ``make_child(id, directory)`` builds the child learner (usually :func:`make_child_learner`)
    and says how to start it. ``tolerate(error)`` may
    accept the children's failures at the end instead of ending with ``error`` (they were
    logged with their ids); ``on_end()`` runs once every child is done.
    """
    dirnames = check_distinct(ids, what)

    def campaign() -> CampaignStream:
        campaign = begin_campaign(parent, plan)
        point = prepare_resume(parent, campaign)
        if point is not None:
            check_shape(parent.run_dir, [f"{prefix}-{dirnames[i]}" for i in ids], prefix=prefix, what=what)
        check_resources(parent)
        children = [make_child(i, os.path.join(parent.run_dir, f"{prefix}-{dirnames[i]}")) for i in ids]
        starts = []  # each child's start() checks its own configuration: before anything is written
        for child in children:
            own = child.learner.run_dir
            resume = own if point is not None and os.path.exists(os.path.join(own, JOURNAL_NAME)) else None
            starts.append((child.learner_id, child.start(resume)))
        private.make_dirs(parent.run_dir)
        for child in children:
            private.make_dirs(child.learner.run_dir)
        parent.children = [child.learner for child in children]
        parent.metric_values_per_iteration = {
            f"{prefix}-{child.learner_id}": child.learner.metric_values_per_iteration for child in children
        }
        manifest = build_manifest(parent, parent.run_dir, max_iter=campaign.max_iter, parallel_count=len(children),
                                  **parent.manifest_extra(plan))
        campaign.open(manifest)
        states = _relay(parent, campaign, starts, children, fail_fast=fail_fast, what=what, tolerate=tolerate,
                        on_end=on_end)

        def abandon() -> None:  # a `break`: the stop is recorded now, the children are cancelled at once
            campaign.abandon()
            _close_soon(states)

        return CampaignStream(states, abandon, exit_on_signal=parent.run_dir if parent.learner_id is None else None)

    return LearnerRun(campaign, parallel=True)


#: per campaign directory, the fan-out of this process still winding down there (its children
#: are being cancelled) and the event loop it runs on; a new fan-out in that directory waits for it
_WINDING_DOWN: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = {}


def _take_turn(run_dir: str) -> tuple[asyncio.Future[None] | None, asyncio.Future[None]]:
    """Register this fan-out in ``run_dir``: the earlier one of this process still ending there (or
    None), and this one's future (done when it has ended in turn)."""
    loop = asyncio.get_running_loop()
    previous = _WINDING_DOWN.get(run_dir)
    mine: asyncio.Future[None] = loop.create_future()
    _WINDING_DOWN[run_dir] = (loop, mine)
    if previous is not None and previous[0] is loop and not previous[1].done():
        return previous[1], mine
    return None, mine


_CLOSING: set[asyncio.Task[None]] = set()  # the event loop keeps only weak references to tasks


def _close_soon(states: AsyncIterator[IterationState]) -> None:
    """Schedule ``states.aclose()`` now (a ``break`` dropped the stream) rather than whenever the
    garbage collector finalises the generator; without a running loop the finaliser does it."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    closing = loop.create_task(states.aclose(), name="rose-fanout-close")  # type: ignore[attr-defined]
    _CLOSING.add(closing)
    closing.add_done_callback(_CLOSING.discard)


def _ended(run_dir: str, mine: asyncio.Future[None]) -> None:
    if not mine.done():
        mine.set_result(None)
    if _WINDING_DOWN.get(run_dir, (None, None))[1] is mine:
        del _WINDING_DOWN[run_dir]


async def _relay(
    parent: Learner,
    campaign: Campaign,
    starts: Sequence[tuple[Any, LearnerRun]],
    children: Sequence[Child],
    *,
    fail_fast: bool,
    what: str,
    tolerate: Callable[[LearnerFailedError], bool] | None,
    on_end: Callable[[], None] | None,
) -> AsyncIterator[IterationState]:
    """The children's states as the parent's. A ``break`` in the consumer does not close this
    generator: the event loop's async-generator hook schedules its ``aclose()`` as a task, so the
    children are cancelled a few turns of the loop later. Hence the children start (read their
    journals) only once an earlier fan-out of this process in the same directory has ended."""
    reason = "error"
    failed: set[Any] = set()
    run_dir = parent.run_dir
    previous, mine = _take_turn(run_dir)
    try:
        if previous is not None:
            logger.info("waiting for the campaign left in %s to cancel its learners' tasks before this one starts",
                        run_dir)
            await asyncio.shield(previous)
        runs = [(learner_id, run.__aiter__()) for learner_id, run in starts]  # each child reads its journal here
    except BaseException as exc:
        _ended(run_dir, mine)
        reason = stop_reason_for_termination(campaign.deadline) if isinstance(exc, asyncio.CancelledError) else (
            "stopped" if isinstance(exc, (GeneratorExit, KeyboardInterrupt)) else "error")
        campaign.end(reason)
        await campaign.finish(parent.get_current_state(), reason)
        raise
    stream = stream_learners(runs, fail_fast=fail_fast, label=what)
    try:
        try:
            async for state in stream:
                parent.relay_state(state)
                campaign.relay(state)
                yield state
        except LearnerFailedError as exc:
            failed = set(exc.failures)
            if tolerate is None or not tolerate(exc):
                raise
        reason = combined_stop_reason(
            (child.learner.stop_reason for child in children if child.learner_id not in failed), parent.is_stopped
        )
    except (GeneratorExit, asyncio.CancelledError, KeyboardInterrupt) as exc:
        reason = stop_reason_for_termination(campaign.deadline) if isinstance(exc, asyncio.CancelledError) else "stopped"
        raise
    finally:
        try:
            await stream.aclose()  # type: ignore[attr-defined]  # cancel the children's tasks first
        finally:
            _ended(run_dir, mine)
        campaign.end(reason)
        if on_end is not None:
            on_end()
        await campaign.finish(parent.get_current_state(), reason)


@frozen(kw_only=True)
class ParallelOptions(StartOptions):
    """``start()`` options of a :class:`ParallelCopies` learner (besides its children's own)."""

    parallel_learners: int = field(default=2)
    learner_configs: Any = configuration()
    fail_fast: bool = False


class ParallelCopies(Learner):
    """``parallel_learners`` copies of the sequential policy ``child_class``, run at once.

    Each child runs this learner's tasks with its own configuration (``learner_configs``:
    one entry per child, ``None`` for the base task defaults), its own directory
    ``<run_dir>/learner-<i>`` and ``learner_id`` = its index; the options of ``child_class``
    (declared by its :attr:`options_class`) reach every child. ``fail_fast`` stops all at the
    first failure. A plugin declares ``child_class``, an ``options_class`` combining
    :class:`ParallelOptions` with the child's options, and ``start_positional``.
    """

    child_class: ClassVar[type[Learner]] = Learner
    options_class: ClassVar[type[StartOptions]] = ParallelOptions

    @property
    def learners(self) -> list[Learner]:
        """The learners of the current (or last) run, by index."""
        return list(self.children)

    def validate(self, max_iter: int = 0, **options: Any) -> None:
        """At least two learners, the tasks, and max_iter/criterion."""
        count = options.get("parallel_learners", 2)
        if not isinstance(count, int) or isinstance(count, bool) or count < 2:
            raise ValueError(f"{type(self).__name__} needs parallel_learners >= 2, got {count!r}. For single "
                             f"learner, use {self.child_class.__name__}")
        super().validate(max_iter)

    def launch(self, plan: Plan) -> LearnerRun:
        """Fan out: one ``child_class`` per learner, each started with the children's options."""
        ids = list(range(plan.options["parallel_learners"]))
        configs = configs_per_child(ids, plan.options["learner_configs"], owner=type(self).__name__)
        plan = evolve(plan, manifest=configs_manifest(configs))
        own = {f.name for f in fields(ParallelOptions)}
        child_options = {name: value for name, value in plan.options.items() if name not in own}
        logger.info("[%s] starting %d parallel learners", self.label, len(ids))

        def make_child(learner_id: Any, directory: str) -> Child:
            child = make_child_learner(self, self.child_class, learner_id, directory)
            return Child(
                learner_id=learner_id, learner=child,
                start=lambda resume_dir: child.start(max_iter=plan.max_iter, skip_pre_loop=plan.skip_pre_loop,
                                                     initial_config=configs[learner_id], resume=resume_dir,
                                                     deadline=plan.deadline, **child_options),
            )

        return fan_out(self, plan, ids, make_child, fail_fast=plan.options["fail_fast"])
