"""Trackers: the protocol, the campaign manifest, and non-blocking dispatch.

A tracker is any object with ``on_start(manifest)``, ``on_iteration(state)`` and
``on_stop(final_state, reason)``, and optionally ``on_task(event)``: a dict with
``learner_id``, ``iteration``, ``task``, ``kind``, ``attempt``, ``status`` (``running``,
``done`` or ``failed``) and ``seconds``, sent when every task attempt starts and ends.
``reason`` is one of ``criterion_met``,
``max_iter_reached``, ``stopped`` (``stop()``, a ``break`` out of the loop, Ctrl-C) or
``error``. Learners call trackers from a worker thread, in order, so a slow tracker never
stalls tasks; a tracker that raises is logged with its name and never breaks the campaign.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol, runtime_checkable

from attrs import define, field

from rose.state import IterationState, jsonable

__all__ = [
    "STOP_REASONS",
    "CriterionManifest",
    "PipelineManifest",
    "TaskManifest",
    "Tracker",
    "TrackerBase",
    "TrackerHub",
]

logger = logging.getLogger(__name__)

STOP_REASONS = ("criterion_met", "max_iter_reached", "stopped", "error")


@runtime_checkable
class Tracker(Protocol):
    """What a tracker implements (duck-typed; subclass :class:`TrackerBase` for no-ops)."""

    def on_start(self, manifest: PipelineManifest) -> None:
        """Called once when the campaign starts."""

    def on_iteration(self, state: IterationState) -> None:
        """Called after every iteration of every learner."""

    def on_stop(self, final_state: IterationState | None, reason: str) -> None:
        """Called once at the end with the last state and why it ended."""


class TrackerBase:
    """A tracker that does nothing; override what you need."""

    def on_start(self, manifest: PipelineManifest) -> None:
        """Called once when the campaign starts."""

    def on_iteration(self, state: IterationState) -> None:
        """Called after every iteration of every learner."""

    def on_stop(self, final_state: IterationState | None, reason: str) -> None:
        """Called once at the end with the last state and why it ended."""


@define(kw_only=True)
class TaskManifest:
    """One registered task as trackers see it."""

    func_name: str
    func_module: str
    as_executable: bool
    kind: str = ""
    decor_kwargs: dict[str, Any] = field(factory=dict)
    log_params: dict[str, Any] = field(factory=dict)
    resources: dict[str, Any] = field(factory=dict)


@define(kw_only=True)
class CriterionManifest(TaskManifest):
    """The stop criterion: metric, threshold and the operator actually used."""

    metric_name: str = ""
    threshold: float = 0.0
    operator: str = ""


@define(kw_only=True)
class PipelineManifest:
    """What a campaign is: learner type, tasks, criterion, parallelism, run directory."""

    learner_type: str
    tasks: dict[str, TaskManifest] = field(factory=dict)
    criterion: CriterionManifest | None = None
    parallel_count: int | None = None
    max_iter: int | None = None
    run_dir: str | None = None
    learner_configs: list[Any] = field(factory=list)
    extra: dict[str, Any] = field(factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable view of the manifest."""
        from attrs import asdict

        return jsonable(asdict(self, recurse=True))  # type: ignore[no-any-return]


class TrackerHub:
    """Calls a learner's trackers off the event loop, in order, without blocking tasks.

    Each tracker gets its own queue and worker; ``close()`` waits until everything queued
    has been delivered (nothing is lost at a normal stop).
    """

    def __init__(self, trackers: list[Any]) -> None:
        self._trackers = list(trackers)
        self._queues: list[asyncio.Queue[tuple[str, tuple[Any, ...]] | None]] = []
        self._workers: list[asyncio.Task[None]] = []

    def __bool__(self) -> bool:
        return bool(self._trackers)

    def start(self, manifest: PipelineManifest) -> None:
        """Start the workers and queue ``on_start``."""
        for tracker in self._trackers:
            queue: asyncio.Queue[tuple[str, tuple[Any, ...]] | None] = asyncio.Queue()
            self._queues.append(queue)
            self._workers.append(asyncio.create_task(self._work(tracker, queue)))
        self._put("on_start", manifest)

    def iteration(self, state: IterationState) -> None:
        """Queue ``on_iteration(state)`` for every tracker; returns at once."""
        self._put("on_iteration", state)

    def task(self, event: dict[str, Any]) -> None:
        """Queue ``on_task(event)`` for the trackers that implement it; returns at once."""
        for tracker, queue in zip(self._trackers, self._queues):
            if callable(getattr(tracker, "on_task", None)):
                queue.put_nowait(("on_task", (event,)))

    async def close(self, final_state: IterationState | None, reason: str) -> None:
        """Queue ``on_stop`` and wait until every tracker has processed its queue."""
        self._put("on_stop", final_state, reason)
        for queue in self._queues:
            queue.put_nowait(None)
        if self._workers:
            await asyncio.shield(asyncio.gather(*self._workers, return_exceptions=True))
        self._workers.clear()
        self._queues.clear()

    def _put(self, method: str, *args: Any) -> None:
        for queue in self._queues:
            queue.put_nowait((method, args))

    @staticmethod
    async def _work(tracker: Any, queue: asyncio.Queue[tuple[str, tuple[Any, ...]] | None]) -> None:
        name = type(tracker).__name__
        while True:
            item = await queue.get()
            if item is None:
                return
            method, args = item
            callback = getattr(tracker, method, None)
            if callback is None:
                continue
            try:
                await asyncio.to_thread(callback, *args)
            except Exception:
                logger.warning("tracker %s failed in %s; the campaign goes on", name, method, exc_info=True)
