"""The tasks a campaign has in flight, and the ``running`` journal record that shows the long ones.

A task is journaled when it ends (its ``task`` record); a command also when its process starts
(``process``). A function task that runs for minutes would stay invisible until its end. So
while a campaign has tasks in flight, a timer on its event loop looks, at most once every
:data:`TICK_SECONDS`, for tasks in flight for :data:`LISTED_AFTER` seconds or more, and when
that list changed (new ones, or one cancelled) or was last written :data:`REPEAT_SECONDS` ago,
writes one ``running`` record to the campaign's journal::

    {"type": "running", "time": ..., "learner_id": ..., "count": 3,
     "tasks": [{"task": "simulation", "kind": "simulation", "iteration": 4, "key": "...", "submit": ...}, ...]}

``tasks`` lists the :data:`MAX_LISTED` longest in flight, ``count`` how many there are in all.
A campaign of short tasks (every one done within :data:`LISTED_AFTER`) writes none. The record
is a detail record (:data:`rose.journal.DETAIL_RECORDS`): the journal only, never the summary
or the curve; resuming ignores it (what a resume reuses comes from ``task`` records alone).
``rose ui`` draws each listed task as running until its ``task`` record ends it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from typing import Any, Protocol, TypeVar

from rose.errors import RoseError

__all__ = ["LISTED_AFTER", "MAX_LISTED", "REPEAT_SECONDS", "TICK_SECONDS", "Flights"]

#: a task in flight at least this long (seconds) is listed in a ``running`` record
LISTED_AFTER = 1.0
#: how often (seconds) the list is looked at while tasks are in flight
TICK_SECONDS = 1.0
#: an unchanged list is written again after this long (seconds): a reader that starts late finds it
REPEAT_SECONDS = 30.0
#: the most tasks one record lists (the longest in flight); ``count`` has them all
MAX_LISTED = 200

_T = TypeVar("_T")
logger = logging.getLogger(__name__)


class _Journal(Protocol):
    def write(self, record_type: str, /, *, grouped: bool = False, **fields: Any) -> None: ...


class Flights:
    """The tasks of one campaign in flight (see the module docstring); one per campaign journal
    (slots: a parallel campaign of 1,000 learners holds 1,000 of them)."""

    __slots__ = ("_closed", "_dropped", "_journal", "_learner_id", "_listed", "_next", "_tasks", "_timer", "_written_at")

    def __init__(self, journal: _Journal, learner_id: Any) -> None:
        self._journal = journal
        self._learner_id = learner_id
        #: number -> (task name, kind, iteration, key, submission time), oldest first
        self._tasks: dict[int, tuple[str, str, Any, str, float]] = {}
        self._next = 0
        self._timer: asyncio.TimerHandle | None = None
        self._listed: frozenset[int] = frozenset()  # the tasks the last record listed
        self._dropped = False  # one of them ended without a task record (cancelled) since
        self._written_at = 0.0
        self._closed = False

    async def run(self, task: Awaitable[_T], name: str, kind: str, iteration: Any, key: str) -> _T:
        """Await ``task`` (one task's execution, retries included), counted in flight meanwhile."""
        number = self._next
        self._next = number + 1
        self._tasks[number] = (name, kind, iteration, key, time.time())
        if self._timer is None and not self._closed:
            self._timer = asyncio.get_running_loop().call_later(TICK_SECONDS, self._tick)
        try:
            return await task
        except asyncio.CancelledError:
            if number in self._listed:
                self._dropped = True  # no task record ends it: the next record leaves it out
            raise
        finally:
            del self._tasks[number]

    def _tick(self) -> None:
        """Write the list of long tasks when it changed (or is due again); look again while tasks fly.

        It changed when a task joined it, or when one it listed was cancelled (no ``task``
        record ends that one); tasks that end normally leave by their ``task`` records.
        """
        self._timer = None
        if self._closed:
            return
        now = time.time()
        listed: list[int] = []
        count = 0
        for number, entry in self._tasks.items():  # oldest first: stop at the first short one
            if now - entry[4] < LISTED_AFTER:
                break
            count += 1
            if len(listed) < MAX_LISTED:
                listed.append(number)
        joined = any(number not in self._listed for number in listed)
        if joined or self._dropped or (count and now - self._written_at >= REPEAT_SECONDS):
            try:
                self._write(listed, count)
            except RoseError as exc:  # the journal cannot be written: the campaign's next record says so
                logger.error("%s (the tasks in flight are no longer listed)", exc)
                self.close()
                return
            self._listed, self._dropped, self._written_at = frozenset(listed), False, now
        if self._tasks:
            self._timer = asyncio.get_running_loop().call_later(TICK_SECONDS, self._tick)

    def _write(self, listed: list[int], count: int) -> None:
        tasks = self._tasks
        entries = [
            {"task": name, "kind": kind, "iteration": iteration, "key": key, "submit": round(submit, 6)}
            for name, kind, iteration, key, submit in (tasks[number] for number in listed)
        ]
        self._journal.write("running", learner_id=self._learner_id, count=count, tasks=entries)

    def close(self) -> None:
        """The campaign ended: look no more (its stop record ends what is still shown running)."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
