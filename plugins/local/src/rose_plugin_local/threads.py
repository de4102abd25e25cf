"""``FunctionThreads``: the worker threads that run the local backend's function tasks.

Each worker thread keeps one event loop and runs coroutine functions on it, one at a time.
Results go back to the campaign's event loop in batches: one wake-up of that loop hands
over every result that finished since it last looked.

Why not ``ThreadPoolExecutor`` with ``loop.run_in_executor`` (what asyncflow does, and what
this backend did up to ROSE 0.4)? Per task it builds a ``concurrent.futures.Future`` (with
its condition and lock), chains an asyncio future to it, and wakes the campaign's loop
once per result through its self-pipe, each time handing the GIL around. With 256
learners of no-op tasks on 2 cores that was half of the CPU spent per task (benchmarks/,
scenario 3). The class is still an :class:`~concurrent.futures.Executor`, so code that
calls ``submit`` (or ``run_in_executor``) on ``backend.executor`` keeps working.

Each worker thread's loop runs one long-lived task, its pump, which takes the queued tasks one
by one and runs each coroutine inside itself: up to the first ``await`` that really waits, as a
plain call with no turn of the loop (a coroutine that never waits, such as an ``async def``
around a computation, ends there), and from there as a coroutine the pump awaits. Running each
through ``run_until_complete`` cost 10 us warm and 85-135 us of the worker's CPU cold, on the
hop from a task to the task that depends on it (benchmarks/peers/measured, 2026-12-07). The
coroutine still runs inside a real task (``asyncio.current_task()``, ``asyncio.timeout`` and
``TaskGroup`` work), in its own copy of the context, and cancelling it still stops it at its
next ``await``.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import threading
import types
from collections import deque
from collections.abc import Callable, Generator
from concurrent.futures import Executor, Future
from queue import Empty, SimpleQueue
from typing import Any

__all__ = ["FunctionThreads", "ThreadLoops"]

logger = logging.getLogger(__name__)


class ThreadLoops:
    """One event loop per worker thread for coroutine functions, reused from task to task.

    asyncflow runs each function task with ``asyncio.run``, which creates and tears down
    an event loop every time; on 2 cores that fought the main loop for the GIL and capped
    256 parallel learners at ~1,200 tasks/s (benchmarks/, scenario 3). Reusing the loop
    does what ``asyncio.run`` does per task (cancel what the task left running) without
    the set-up cost.
    """

    def __init__(self) -> None:
        self._local = threading.local()
        self._loops: list[asyncio.AbstractEventLoop] = []
        self._lock = threading.Lock()

    def run(self, func: Any, args: Any, kwargs: Any, on_start: Callable[[asyncio.Task[Any]], None] | None = None) -> Any:
        """Run the coroutine function ``func(*args, **kwargs)`` on this thread's loop; ``on_start`` gets
        its task before it runs (to cancel it from another thread)."""
        loop = getattr(self._local, "loop", None)
        if loop is None or loop.is_closed():
            loop = asyncio.new_event_loop()
            loop.set_task_factory(self._track)
            self._local.loop = loop
            self._local.tasks = []
            with self._lock:
                self._loops.append(loop)
        asyncio.set_event_loop(loop)
        tasks: list[asyncio.Task[Any]] = self._local.tasks
        try:
            main = loop.create_task(func(*args, **kwargs))
            if on_start is not None:
                on_start(main)
            return loop.run_until_complete(main)
        finally:
            # What the function left running; not asyncio.all_tasks(loop), which walks every
            # task of every loop in the process (the campaign's thousands) on each call.
            leftover = _cancel_unfinished(tasks)
            tasks.clear()
            if leftover:
                loop.run_until_complete(asyncio.gather(*leftover, return_exceptions=True))

    def _track(self, loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
        task = asyncio.Task(coro, loop=loop, **kwargs)
        self._local.tasks.append(task)
        return task

    def close(self) -> None:
        """Close every loop that is not running (busy threads keep theirs until they end)."""
        with self._lock:
            loops, self._loops = self._loops, []
        for loop in loops:
            if not loop.is_running() and not loop.is_closed():
                loop.close()


def _cancel_unfinished(tasks: list[asyncio.Task[Any]]) -> list[asyncio.Task[Any]]:
    """Cancel the tasks a function left running (as ``asyncio.run`` does at its end); returns them, to await."""
    leftover = [task for task in tasks if not task.done()]
    for task in leftover:
        task.cancel()
    return leftover


class _Pump:
    """One worker thread's event loop, the long-lived task (the pump) that runs its coroutines,
    and the caller's future of the coroutine it runs now (None between coroutines)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.task: asyncio.Task[None] | None = None
        self.current: asyncio.Future[Any] | None = None
        self.started: list[asyncio.Task[Any]] | None = None  # tasks the current coroutine created

    def track(self, loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
        """The loop's task factory: remembers what the current coroutine starts, to cancel what it leaves."""
        task = asyncio.Task(coro, loop=loop, **kwargs)
        if self.started is not None:
            self.started.append(task)
        return task

    def cancel_soon(self, future: asyncio.Future[Any]) -> None:
        """(Any thread.) Cancel the coroutine of ``future`` at its next ``await``, if it still runs."""
        with contextlib.suppress(RuntimeError):  # the loop is closed: the thread has ended
            self.loop.call_soon_threadsafe(self._cancel, future)

    def _cancel(self, future: asyncio.Future[Any]) -> None:
        if self.current is future and self.task is not None:
            self.task.cancel()

    async def run(self, future: asyncio.Future[Any], func: Callable[..., Any], args: Any, kwargs: Any) -> tuple[bool, Any]:
        """(In the pump.) Run ``func(*args, **kwargs)`` to its end: (True, value) or (False, exception)."""
        context = contextvars.copy_context()  # a context of its own, as a task created for it would have
        self.current, self.started = future, []
        try:
            coro = func(*args, **kwargs)
            if not asyncio.iscoroutine(coro):
                raise TypeError(f"a function task must be a coroutine function (async def); {func!r} returned {coro!r}")
            try:
                waiting_on = context.run(coro.send, None)
            except StopIteration as stop:  # it never waited: no turn of the loop at all
                return True, stop.value
            return True, await _carry_on(coro, context, waiting_on)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, CancelledError included
            return False, exc
        finally:
            self.current = None
            await self._after()

    async def _after(self) -> None:
        """Cancel what the coroutine left running (as ``asyncio.run`` does) and clear the pump's cancellations."""
        leftover, self.started = _cancel_unfinished(self.started or []), None
        while leftover:
            try:
                await asyncio.gather(*leftover, return_exceptions=True)
                break
            except asyncio.CancelledError:  # a stale cancellation of the pump: not for these
                leftover = [task for task in leftover if not task.done()]
        pump = self.task
        cancelling = getattr(pump, "cancelling", None)  # Python 3.11+: a task counts its cancellations
        while cancelling is not None and cancelling():  # (asyncio.timeout, TaskGroup): back to none for the next
            pump.uncancel()  # type: ignore[union-attr]


@types.coroutine
def _carry_on(coro: Any, context: contextvars.Context, waiting_on: Any) -> Generator[Any, Any, Any]:
    """Go on with a coroutine that waited on its first step: what ``await`` does, each step in ``context``."""
    while True:
        try:
            sent = yield waiting_on
        except GeneratorExit:
            coro.close()
            raise
        except BaseException as exc:  # noqa: BLE001 - thrown into the coroutine, as await does
            try:
                waiting_on = context.run(coro.throw, exc)
            except StopIteration as stop:
                return stop.value
        else:
            try:
                waiting_on = context.run(coro.send, sent)
            except StopIteration as stop:
                return stop.value


class _Outbox:
    """Results waiting for one event loop, and whether a wake-up of that loop is on its way."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.results: deque[tuple[asyncio.Future[Any], bool, Any, Callable[[asyncio.Future[Any]], None] | None]] = deque()
        self.wake_pending = False


class FunctionThreads(Executor):
    """``workers`` daemon threads running coroutine functions for asyncio callers.

    :meth:`start` returns an asyncio future of the caller's loop. A future cancelled
    before its turn is skipped; one cancelled while its coroutine runs cancels that coroutine
    on its thread's loop, so it stops at its next ``await`` (a ``timeout``, a ``break``,
    Ctrl-C: a retry never runs beside the attempt it replaces). Code that blocks without
    awaiting runs out (Python cannot stop a thread) and its result is discarded. Threads are started on
    first use and are daemons, so a function that never returns does not keep the
    process alive after the campaign.
    """

    def __init__(self, workers: int, name: str = "rose-local") -> None:
        if workers < 1:
            raise ValueError(f"FunctionThreads needs at least one worker, got {workers!r}")
        self.workers = workers
        self._name = name
        self._queue: SimpleQueue[tuple[Any, ...] | None] = SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._outboxes: dict[asyncio.AbstractEventLoop, _Outbox] = {}
        self._running: dict[asyncio.Future[Any], _Pump] = {}  # caller's future -> the pump running its coroutine
        self._on_done = self.stop_if_cancelled  # one bound method for every future (memory per task in flight)
        self._closed = False

    # -- the asyncio path ---------------------------------------------------------------
    def start(self, func: Callable[..., Any], args: Any, kwargs: Any, *, stop_on_cancel: bool = True,
              on_end: Callable[[asyncio.Future[Any]], None] | None = None) -> asyncio.Future[Any]:
        """Run the coroutine function ``func(*args, **kwargs)`` on a worker thread.

        Cancelling the returned future cancels the coroutine where it runs; a caller that has a
        done-callback on the future anyway may pass ``stop_on_cancel=False`` and call
        :meth:`stop_if_cancelled` from it (one callback less per task in flight).
        ``on_end(future)`` is called once the future is done: at once, in the turn of the loop that
        receives the result (a done-callback would wait for the next turn), or as a done-callback
        when the future is cancelled.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if stop_on_cancel:
            future.add_done_callback(self._on_done)
        if on_end is not None:
            future.add_done_callback(on_end)
        self._put((future, func, args, kwargs, on_end))
        return future

    def stop_if_cancelled(self, future: asyncio.Future[Any]) -> None:
        """(On the caller's loop, once ``future`` is done.) A cancelled future cancels its coroutine where it runs."""
        if future.cancelled() and (pump := self._running.get(future)) is not None:
            pump.cancel_soon(future)

    def _deliver(self, outbox: _Outbox) -> None:
        with self._lock:
            outbox.wake_pending = False
        results = outbox.results
        while results:
            future, ok, value, on_end = results.popleft()
            if future.done():
                continue
            if on_end is not None:
                future.remove_done_callback(on_end)  # called right here instead
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)
            if on_end is not None:
                try:
                    on_end(future)
                except Exception:  # as the loop reports a failing done-callback; the other results go on
                    logger.exception("the end callback of a function task failed")

    def _send_back(self, future: asyncio.Future[Any], ok: bool, value: Any,
                   on_end: Callable[[asyncio.Future[Any]], None] | None) -> None:
        loop = future.get_loop()
        with self._lock:
            outbox = self._outboxes.get(loop)
            if outbox is None:
                outbox = self._outboxes[loop] = _Outbox(loop)
            outbox.results.append((future, ok, value, on_end))
            wake = not outbox.wake_pending
            outbox.wake_pending = True
        if wake:
            try:
                loop.call_soon_threadsafe(self._deliver, outbox)
            except RuntimeError:  # the loop is closed: nobody waits for the result any more
                with self._lock:
                    self._outboxes.pop(loop, None)

    # -- the Executor API ---------------------------------------------------------------
    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        """Run the plain callable ``fn(*args, **kwargs)`` on a worker thread (Executor API)."""
        future: Future[Any] = Future()
        self._put((future, fn, args, kwargs, None))
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop taking work; with ``cancel_futures`` drop what has not started."""
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        if cancel_futures:
            while True:
                try:
                    item = self._queue.get_nowait()
                except Empty:
                    break
                if item is not None and isinstance(item[0], Future):
                    item[0].cancel()
        for _ in threads:
            self._queue.put(None)
        if wait:
            for thread in threads:
                if thread is not threading.current_thread():
                    thread.join()

    # -- the workers --------------------------------------------------------------------
    def _put(self, item: tuple[Any, ...]) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot run a function task after the local backend was shut down")
            if len(self._threads) < self.workers:
                thread = threading.Thread(
                    target=self._work, name=f"{self._name}_{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
        self._queue.put(item)

    def _work(self) -> None:
        loop = asyncio.new_event_loop()
        pump = _Pump(loop)
        asyncio.set_event_loop(loop)
        try:
            pump.task = loop.create_task(self._pump(pump))
            loop.set_task_factory(pump.track)
            loop.run_until_complete(pump.task)
        except Exception:  # a worker must not die silently
            logger.exception("worker thread %s of the local backend stopped", threading.current_thread().name)
        finally:
            loop.close()

    async def _pump(self, pump: _Pump) -> None:
        """Run the queued work one item at a time (blocking the thread while there is none: its loop has nothing to do)."""
        while True:
            item = self._queue.get()
            if item is None:
                return
            future, func, args, kwargs, on_end = item
            if isinstance(future, Future):  # a plain callable (Executor.submit): no running loop around it
                if future.set_running_or_notify_cancel():
                    # as on a plain thread: no running loop, so that it may call asyncio.run itself
                    # (_set_running_loop is asyncio's hook for code that runs loops, in asyncio.events.__all__)
                    asyncio.events._set_running_loop(None)
                    try:
                        future.set_result(func(*args, **kwargs))
                    except BaseException as exc:  # noqa: BLE001 - handed to the caller
                        future.set_exception(exc)
                    finally:
                        asyncio.events._set_running_loop(pump.loop)
                continue
            self._running[future] = pump
            try:
                if future.cancelled():  # cancelled before its turn, or while it was being registered
                    continue
                ok, value = await pump.run(future, func, args, kwargs)
                self._send_back(future, ok, value, on_end)
            finally:
                self._running.pop(future, None)
