"""Deliver tracker calls off the event loop, in order, without blocking the campaign."""

from __future__ import annotations

import asyncio
import atexit
import collections
import contextvars
import logging
import os
import queue
import threading
import time
from typing import Any

from rose.state import IterationState
from rose.tracking import PipelineManifest

__all__ = ["DELIVERY_DELAY", "STOP_TIMEOUT", "TrackerHub"]

logger = logging.getLogger("rose.tracking")

#: seconds a queued tracker call may wait before the tracker's thread is woken to deliver it
DELIVERY_DELAY = 0.05
#: seconds the interpreter waits at exit for trackers to deliver what they were given
EXIT_DELIVERY_TIMEOUT = 60.0
#: seconds the interpreter still gives, at exit, a tracker the campaign stopped waiting for (a slow
#: ``on_stop``, such as ClearML packing an offline session, finishes; a hung tracker cannot hold the process)
LATE_EXIT_GRACE = 20.0
#: seconds a campaign waits at its end for its trackers (``ROSE_TRACKER_TIMEOUT`` overrides)
STOP_TIMEOUT = 10.0

_Call = tuple[str, tuple[Any, ...]]


class _Marker:
    """Set by a tracker's thread once everything queued before it has been delivered."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout: float) -> bool:
        return self._event.wait(timeout)

    def set(self) -> None:
        with self._lock:
            self._event.set()
            waiters, self._waiters = self._waiters, []
        for loop, future in waiters:
            try:
                loop.call_soon_threadsafe(_complete, future)
            except RuntimeError:  # that event loop is closed: nobody waits any more
                pass

    def future(self) -> asyncio.Future[None]:
        """A future of the running event loop, done when the marker is set."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._lock:
            if self._event.is_set():
                future.set_result(None)
            else:
                self._waiters.append((loop, future))
        return future


def _complete(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def stop_timeout() -> float:
    """How long a campaign waits for its trackers at the end (``ROSE_TRACKER_TIMEOUT``, default 10 s)."""
    raw = os.environ.get("ROSE_TRACKER_TIMEOUT", "").strip()
    try:
        return max(0.0, float(raw)) if raw else STOP_TIMEOUT
    except ValueError:
        logger.warning("ROSE_TRACKER_TIMEOUT=%r is not a number of seconds; using %s", raw, STOP_TIMEOUT)
        return STOP_TIMEOUT


class TrackerHub:
    """Calls a learner's trackers off the event loop, in order, without blocking tasks.

    Every tracker object has one worker thread in the process, shared by all the learners
    it was added to, so it sees their calls one at a time in the order the learners made
    them (a tracker never needs to be thread-safe, and one shared by parallel learners gets
    every ``on_start`` before any learner's ``on_stop``). Queuing a call costs the event
    loop about a microsecond; the worker is woken at most every :data:`DELIVERY_DELAY`
    seconds (``on_start`` and ``on_stop`` at once) and then delivers everything queued, so
    a tracker costs the learning loop little more than the CPU its own callbacks use -
    waking a thread per iteration would cost more than a fast loop's iteration itself.
    ``close()`` waits until everything queued has been delivered (nothing is lost at a
    normal stop). When the wait itself is cancelled (``asyncio.run`` cancelling what is left
    after a Ctrl-C), the calls are still delivered: the interpreter waits for them at exit,
    before ``atexit`` handlers run (so a tracker's own exit handler sees its ``on_stop``).
    """

    def __init__(self, trackers: list[Any]) -> None:
        self._trackers = list(trackers)
        self._workers: list[_TrackerWorker] = []

    def __bool__(self) -> bool:
        return bool(self._trackers)

    def start(self, manifest: PipelineManifest) -> None:
        """Start (or join) the workers and queue ``on_start``."""
        self._workers = [_TrackerWorker.join(tracker) for tracker in self._trackers]
        for worker in self._workers:
            worker.put(("on_start", (manifest,)), now=True)

    def iteration(self, state: IterationState) -> None:
        """Queue ``on_iteration(state)`` for every tracker; returns at once."""
        for worker in self._workers:
            worker.put(("on_iteration", (state,)))

    @property
    def wants_tasks(self) -> bool:
        """Whether a started tracker implements ``on_task`` (else task events need not be built)."""
        return any(worker.has_on_task for worker in self._workers)

    def task(self, event: dict[str, Any]) -> None:
        """Queue ``on_task(event)`` for the trackers that implement it; returns at once."""
        for worker in self._workers:
            if worker.has_on_task:
                worker.put(("on_task", (event,)))

    def _queue_stop(self, final_state: IterationState | None, reason: str) -> list[tuple[_TrackerWorker, _Marker]]:
        markers = []
        for worker in self._workers:
            worker.put(("on_stop", (final_state, reason)), now=True)
            markers.append((worker, worker.leave()))
        self._workers = []
        return markers

    def close_now(self, final_state: IterationState | None, reason: str, timeout: float | None = None) -> None:
        """Queue ``on_stop`` and block (at most ``timeout`` s) until every tracker has processed it.

        For the rare moment the event loop cannot be left: a campaign abandoned by a ``break``
        ends in the garbage collector, and its trackers must be told before the user's next line.
        """
        markers = self._queue_stop(final_state, reason)
        deadline = time.monotonic() + (stop_timeout() if timeout is None else timeout)
        for _worker, marker in markers:
            marker.wait(max(0.0, deadline - time.monotonic()))
        _warn_late(markers)

    async def close(self, final_state: IterationState | None, reason: str, timeout: float | None = None) -> None:
        """Queue ``on_stop`` and wait (at most ``timeout`` s) until every tracker has processed its queue.

        A tracker still busy after the timeout (``ROSE_TRACKER_TIMEOUT``, default 10 s) is
        named in a warning and left behind: the campaign ends anyway.
        """
        markers = self._queue_stop(final_state, reason)
        if not markers:
            return
        limit = stop_timeout() if timeout is None else timeout
        waiting = asyncio.gather(*(marker.future() for _worker, marker in markers))
        try:
            await asyncio.wait_for(asyncio.shield(waiting), limit)
        except asyncio.TimeoutError:
            pass
        _warn_late(markers)


def _warn_late(markers: list[tuple[_TrackerWorker, _Marker]]) -> None:
    late = [worker for worker, marker in markers if not marker.is_set()]
    for worker in late:
        worker.abandoned = True  # a daemon thread: exit gives it LATE_EXIT_GRACE seconds more, then goes
        busy = worker.busy
        where = (f"is still in {busy[0]} after {time.monotonic() - busy[1]:.1f} s" if busy is not None
                 else "has not processed its queue")
        logger.warning(
            "tracker %s %s; its on_stop is not awaited: the campaign ends without it, and the process gives it "
            "%g s more at exit (raise ROSE_TRACKER_TIMEOUT to wait longer)", worker.name, where, LATE_EXIT_GRACE,
        )


class _TrackerWorker:
    """One tracker's daemon thread: runs its callbacks in the order they were queued."""

    _running: dict[tuple[int, int], _TrackerWorker] = {}
    _alive: set[_TrackerWorker] = set()

    @classmethod
    def join(cls, tracker: Any) -> _TrackerWorker:
        """The tracker's worker on this event loop, started if it has none yet."""
        loop = asyncio.get_running_loop()
        key = (id(loop), id(tracker))
        worker = cls._running.get(key)
        if worker is None:
            worker = cls._running[key] = cls(tracker, loop, key)
        worker._users += 1
        return worker

    def __init__(self, tracker: Any, loop: asyncio.AbstractEventLoop, key: tuple[int, int]) -> None:
        self.tracker = tracker
        self.has_on_task = callable(getattr(tracker, "on_task", None))
        self._key = key
        self._users = 0
        self._calls: collections.deque[_Call | _Marker | None] = collections.deque()
        self._wakeups: queue.SimpleQueue[None] = queue.SimpleQueue()
        self._wake_pending: asyncio.TimerHandle | None = None
        self._loop = loop
        self._loop_thread = threading.get_ident()
        self._alive.add(self)
        #: the callback being delivered and since when (monotonic), for the warning about a hung tracker
        self.busy: tuple[str, float] | None = None
        #: left behind by a campaign that stopped waiting for it: interpreter exit does not wait either
        self.abandoned = False
        context = contextvars.copy_context()
        self._thread = threading.Thread(
            target=context.run, args=(self._work,), name=f"rose-tracker[{type(tracker).__name__}]", daemon=True
        )
        self._thread.start()

    def put(self, call: _Call, *, now: bool = False) -> None:
        """Queue one call; the worker is woken within ``DELIVERY_DELAY`` (at once if ``now``)."""
        if threading.get_ident() != self._loop_thread:
            self._loop.call_soon_threadsafe(lambda: self.put(call, now=now))
            return
        self._calls.append(call)
        if now:
            self._wake_now()
        elif self._wake_pending is None:
            self._wake_pending = self._loop.call_later(DELIVERY_DELAY, self._wake)

    @property
    def name(self) -> str:
        """The tracker's class name, for messages."""
        return type(self.tracker).__name__

    def leave(self) -> _Marker:
        """One learner is done: an event set once everything queued so far is delivered."""
        marker = _Marker()
        self._calls.append(marker)
        self._users -= 1
        if self._users <= 0:
            self._running.pop(self._key, None)
            self._calls.append(None)  # the thread ends after the marker
        self._wake_now()
        return marker

    def _wake_now(self) -> None:
        if self._wake_pending is not None:
            self._wake_pending.cancel()
        self._wake()

    def _wake(self) -> None:
        self._wake_pending = None
        self._wakeups.put(None)

    def finish(self) -> threading.Thread:
        """Deliver what is queued, then end (any thread; used at interpreter exit)."""
        self._calls.append(None)
        self._wakeups.put(None)
        return self._thread

    def _work(self) -> None:
        try:
            self._deliver()
        finally:
            self._alive.discard(self)

    def _deliver(self) -> None:
        name = type(self.tracker).__name__
        while True:
            self._wakeups.get()
            while self._calls:
                item = self._calls.popleft()
                if item is None:
                    return
                if isinstance(item, _Marker):
                    item.set()
                    continue
                method, args = item
                callback = getattr(self.tracker, method, None)
                if callback is None:
                    continue
                self.busy = (method, time.monotonic())
                try:
                    callback(*args)
                except BaseException as exc:  # sys.exit() in a tracker must not end delivery
                    logger.warning("tracker %s failed in %s (%s); the campaign goes on", name, method,
                                   type(exc).__name__, exc_info=True)
                finally:
                    self.busy = None


def _deliver_at_exit() -> None:
    """Let every tracker deliver what it was given before the interpreter goes (bounded)."""
    workers = list(_TrackerWorker._alive)
    threads = [worker.finish() for worker in workers]
    now = time.monotonic()
    for worker, thread in zip(workers, threads):
        thread.join(max(0.0, now + (LATE_EXIT_GRACE if worker.abandoned else EXIT_DELIVERY_TIMEOUT) - time.monotonic()))
    late = [thread.name for thread in threads if thread.is_alive()]
    if late:
        logger.warning("trackers still busy after %s s at exit, their last calls may be lost: %s",
                       EXIT_DELIVERY_TIMEOUT, ", ".join(late))


# Before atexit handlers and before daemon threads stop: concurrent.futures uses the same hook.
getattr(threading, "_register_atexit", atexit.register)(_deliver_at_exit)
