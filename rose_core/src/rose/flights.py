"""The tasks a campaign has in flight, and the ``running`` journal record that shows the long ones.

A task is journaled when it ends (its ``task`` record); a command also when its process starts
(``process``). A function task that runs for minutes would stay invisible until its end. So
while a campaign has tasks in flight, a timer on its event loop looks, at most once every
:data:`TICK_SECONDS`, for tasks in flight for :data:`LISTED_AFTER` seconds or more, and when
that list changed (new ones, a retry, or one cancelled) or was last written :data:`REPEAT_SECONDS` ago,
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
import weakref
from collections.abc import Coroutine
from inspect import CORO_CLOSED, CORO_CREATED, getcoroutinestate
from typing import Any, Protocol

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

logger = logging.getLogger(__name__)


class _Journal(Protocol):
    def write(self, record_type: str, /, *, grouped: bool = False, **fields: Any) -> None: ...


class _Spec(Protocol):
    name: str
    kind: str
    retries: int


class Flights:
    """The tasks of one campaign in flight (see the module docstring); one per campaign journal
    (slots: a parallel campaign of 1,000 learners holds 1,000 of them).

    :meth:`add` enters a task when it is handed to the engine (no coroutine or callback of its
    own: a task in flight costs one dict entry and one tuple here, ~150 bytes; scenario 7 holds
    10,000), :meth:`ended` takes it out when its last attempt is journaled; a task cancelled
    meanwhile (nothing is journaled) is found by the timer, its coroutine being finished. One
    timer per event loop looks at every campaign's tasks (:class:`_Ticker`), not one per campaign.
    """

    __slots__ = ("_closed", "_dropped", "_journal", "_learner_id", "_listed", "_tasks", "_ticker", "_watched",
                 "_written_at")

    def __init__(self, journal: _Journal, learner_id: Any) -> None:
        self._journal = journal
        self._learner_id = learner_id
        #: owner (the task's journal writer) -> (spec, iteration, key, submission time, coroutine), oldest first
        self._tasks: dict[object, tuple[_Spec, Any, str, float, Coroutine[Any, Any, Any]]] = {}
        self._ticker: _Ticker | None = None
        self._watched = False  # the ticker looks at these tasks
        self._listed: frozenset[object] = frozenset()  # the tasks the last record listed
        self._dropped = False  # one of them ended without a task record (cancelled) since
        self._written_at = 0.0
        self._closed = False

    def add(self, owner: object, spec: _Spec, iteration: Any, key: str, running: Coroutine[Any, Any, Any]) -> None:
        """Count in flight the task ``running`` executes (``owner`` names it in :meth:`ended`)."""
        if self._closed:
            return
        self._tasks[owner] = (spec, iteration, key, time.time(), running)
        if not self._watched:
            ticker = self._ticker
            if ticker is None:
                try:
                    ticker = self._ticker = _Ticker.of(asyncio.get_running_loop())
                except RuntimeError:  # no event loop runs here: the task cannot run either
                    return
            self._watched = True
            ticker.watch(self)

    def ended(self, owner: object, status: Any, attempt: Any) -> None:
        """An attempt of ``owner``'s task was journaled: out of flight when it was the last one
        (done, or failed without a retry left); a retry starts anew (listed again when long)."""
        entry = self._tasks.pop(owner, None)
        if entry is None or status == "done" or not isinstance(attempt, int) or attempt > entry[0].retries:
            return
        self._tasks[owner] = (*entry[:3], time.time(), entry[4])  # the newest now: the list stays oldest first
        if owner in self._listed:
            self._listed = self._listed - {owner}  # its task record ended the bar: list the retry anew

    def tick(self, now: float) -> bool:
        """Write the list of long tasks when it changed (or is due again); whether tasks still fly.

        It changed when a task joined it, or when one it listed was cancelled (no ``task``
        record ends that one); tasks that end normally leave by their ``task`` records.
        """
        if self._closed:
            self._watched = False
            return False
        listed: list[object] = []
        gone: list[object] = []
        for owner, entry in self._tasks.items():  # oldest first: stop at the first short one
            if now - entry[3] < LISTED_AFTER:
                break
            state = getcoroutinestate(entry[4])
            if state == CORO_CLOSED:  # finished without its end journaled: cancelled
                gone.append(owner)
            elif state != CORO_CREATED:
                listed.append(owner)
            elif now - entry[3] >= REPEAT_SECONDS:  # never awaited: its caller dropped it
                gone.append(owner)
        for owner in gone:
            del self._tasks[owner]
            if owner in self._listed:
                self._dropped = True
        count = len(listed)
        listed = listed[:MAX_LISTED]
        joined = any(owner not in self._listed for owner in listed)
        if joined or self._dropped or (count and now - self._written_at >= REPEAT_SECONDS):
            try:
                self._write(listed, count)
            except RoseError as exc:  # the journal cannot be written: the campaign's next record says so
                logger.error("%s (the tasks in flight are no longer listed)", exc)
                self.close()
                self._watched = False
                return False
            self._listed, self._dropped, self._written_at = frozenset(listed), False, now
        self._watched = bool(self._tasks)
        return self._watched

    def _write(self, listed: list[object], count: int) -> None:
        tasks = self._tasks
        entries = [
            {"task": spec.name, "kind": spec.kind, "iteration": iteration, "key": key, "submit": round(submit, 6)}
            for spec, iteration, key, submit, _ in (tasks[owner] for owner in listed)
        ]
        self._journal.write("running", learner_id=self._learner_id, count=count, tasks=entries)

    def close(self) -> None:
        """The campaign ended: look no more (its stop record ends what is still shown running)."""
        self._closed = True
        self._tasks.clear()  # the ticker lets go of it at its next look


class _Ticker:
    """The one timer of an event loop that looks, every :data:`TICK_SECONDS`, at the tasks of
    each campaign with tasks in flight (10,000 learners: one timer, not 10,000)."""

    _per_loop: weakref.WeakKeyDictionary[Any, _Ticker] = weakref.WeakKeyDictionary()

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._watched: dict[Flights, None] = {}
        self._timer: asyncio.TimerHandle | None = None

    @classmethod
    def of(cls, loop: asyncio.AbstractEventLoop) -> _Ticker:
        """The ticker of ``loop`` (created on first use)."""
        ticker = cls._per_loop.get(loop)
        if ticker is None:
            ticker = cls._per_loop[loop] = cls(loop)
        return ticker

    def watch(self, flights: Flights) -> None:
        """Look at ``flights`` from the next tick on, until it has no task in flight."""
        self._watched[flights] = None
        if self._timer is None:
            self._timer = self.loop.call_later(TICK_SECONDS, self._tick)

    def _tick(self) -> None:
        self._timer = None
        now = time.time()
        for flights in list(self._watched):
            if not flights.tick(now):
                del self._watched[flights]
        if self._watched:
            self._timer = self.loop.call_later(TICK_SECONDS, self._tick)
