"""Deliver tracker calls off the event loop, in order, without blocking the campaign."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from rose.state import IterationState
from rose.tracking import PipelineManifest

__all__ = ["TrackerHub"]

logger = logging.getLogger("rose.tracking")


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
