"""Tasks started in one turn of the event loop reach the Dask scheduler together.

``Client.submit`` sends one graph update per task, and the scheduler pays a fixed cost for
each update (task groups, priorities, transitions, messages to the client). A fan-out of N
tasks that a policy starts with ``asyncio.gather`` reaches the backend in one turn of the
event loop, so :class:`SubmitQueue` holds what is started during a turn and sends it at the
turn's end: the tasks that share a callable and its options as one ``Client.map`` (one
graph update, each task with its own key and arguments), a lone task as ``Client.submit``.
A task waits at most until the event loop's next turn.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

__all__ = ["SubmitQueue"]

logger = logging.getLogger(__name__)

#: one queued task: (task description, kind, positional arguments, Dask key)
Queued = tuple[dict[str, Any], str, tuple[Any, ...], str]


class _Batch:
    """Tasks with one callable, one set of keyword arguments and one set of submit options."""

    def __init__(self, function: Callable[..., Any], kwargs: dict[str, Any], options: dict[str, Any]) -> None:
        self.function, self.kwargs, self.options = function, kwargs, options
        self.items: list[Queued] = []


class SubmitQueue:
    """Holds the tasks started during one turn of the event loop; sends them at its end.

    ``submitted(task, kind, future)`` is called for each task once Dask has it;
    ``failed(task, error)`` for each task Dask refused (both from the event loop).
    ``wanted(uid)`` says whether a queued task should still be sent (False once cancelled).
    """

    def __init__(
        self,
        client: Any,
        submitted: Callable[[dict[str, Any], str, Any], None],
        failed: Callable[[dict[str, Any], BaseException], None],
        wanted: Callable[[str], bool],
    ) -> None:
        self.client = client
        self._submitted, self._failed, self._wanted = submitted, failed, wanted
        self._batches: dict[tuple[Any, ...], _Batch] = {}
        self._queued: set[str] = set()
        self._scheduled = False

    def put(self, task: dict[str, Any], kind: str, function: Callable[..., Any], args: tuple[Any, ...],
            kwargs: dict[str, Any], options: dict[str, Any]) -> None:
        """Queue ``function(*args, **kwargs)`` for ``task``; ``options`` are ``Client.submit``'s (with ``key``)."""
        options = dict(options)
        key = str(options.pop("key"))
        group = (function, repr(sorted(kwargs.items())), repr(sorted(options.items())))
        batch = self._batches.get(group)
        if batch is None:
            batch = self._batches[group] = _Batch(function, kwargs, options)
        batch.items.append((task, kind, tuple(args), key))
        self._queued.add(task["uid"])
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self.send)

    def holds(self, uid: str) -> bool:
        """Whether task ``uid`` is queued and not yet sent."""
        return uid in self._queued

    def send(self) -> None:
        """Send everything queued (the end of the turn, or a shutdown)."""
        self._scheduled = False
        batches, self._batches = self._batches, {}
        self._queued.clear()
        for batch in batches.values():
            items = [item for item in batch.items if self._wanted(item[0]["uid"])]
            if items:
                self._send(batch, items)

    def _send(self, batch: _Batch, items: list[Queued]) -> None:
        keys = [key for _task, _kind, _args, key in items]
        try:
            if len(items) == 1:
                futures = [self.client.submit(batch.function, *items[0][2], key=keys[0], **batch.kwargs,
                                              **batch.options)]
            else:
                columns = list(zip(*(args for _task, _kind, args, _key in items)))
                futures = self.client.map(batch.function, *columns, key=keys, **batch.kwargs, **batch.options)
        except Exception as exc:  # each task of the batch is told, none is lost
            logger.debug("Dask refused a batch of %d task(s)", len(items), exc_info=True)
            for task, _kind, _args, _key in items:
                self._failed(task, exc)
            return
        for (task, kind, _args, _key), future in zip(items, futures):
            self._submitted(task, kind, future)
