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
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future
from queue import Empty, SimpleQueue
from typing import Any

__all__ = ["FunctionThreads", "ThreadLoops"]


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
            leftover = [task for task in tasks if not task.done()]
            tasks.clear()
            for task in leftover:
                task.cancel()
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


class _Outbox:
    """Results waiting for one event loop, and whether a wake-up of that loop is on its way."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.results: deque[tuple[asyncio.Future[Any], bool, Any]] = deque()
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
        self._loops = ThreadLoops()
        self._lock = threading.Lock()
        self._outboxes: dict[asyncio.AbstractEventLoop, _Outbox] = {}
        self._running: dict[asyncio.Future[Any], asyncio.Task[Any]] = {}  # caller's future -> its coroutine's task
        self._on_done = self.stop_if_cancelled  # one bound method for every future (memory per task in flight)
        self._closed = False

    # -- the asyncio path ---------------------------------------------------------------
    def start(self, func: Callable[..., Any], args: Any, kwargs: Any, *, stop_on_cancel: bool = True) -> asyncio.Future[Any]:
        """Run the coroutine function ``func(*args, **kwargs)`` on a worker thread.

        Cancelling the returned future cancels the coroutine where it runs; a caller that has a
        done-callback on the future anyway may pass ``stop_on_cancel=False`` and call
        :meth:`stop_if_cancelled` from it (one callback less per task in flight).
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if stop_on_cancel:
            future.add_done_callback(self._on_done)
        self._put((future, func, args, kwargs))
        return future

    def stop_if_cancelled(self, future: asyncio.Future[Any]) -> None:
        """(On the caller's loop, once ``future`` is done.) A cancelled future cancels its coroutine where it runs."""
        if future.cancelled() and (task := self._running.get(future)) is not None:
            with contextlib.suppress(RuntimeError):  # that thread's loop is closed: the task has ended
                task.get_loop().call_soon_threadsafe(task.cancel)

    def _deliver(self, outbox: _Outbox) -> None:
        with self._lock:
            outbox.wake_pending = False
        results = outbox.results
        while results:
            future, ok, value = results.popleft()
            if future.done():
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

    def _send_back(self, future: asyncio.Future[Any], ok: bool, value: Any) -> None:
        loop = future.get_loop()
        with self._lock:
            outbox = self._outboxes.get(loop)
            if outbox is None:
                outbox = self._outboxes[loop] = _Outbox(loop)
            outbox.results.append((future, ok, value))
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
        self._put((future, fn, args, kwargs))
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
        self._loops.close()

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
        while True:
            item = self._queue.get()
            if item is None:
                return
            future, func, args, kwargs = item
            if isinstance(future, Future):
                if future.set_running_or_notify_cancel():
                    try:
                        future.set_result(func(*args, **kwargs))
                    except BaseException as exc:  # noqa: BLE001 - handed to the caller
                        future.set_exception(exc)
                continue
            if future.cancelled():
                continue
            try:
                value = self._loops.run(func, args, kwargs, functools.partial(self._started, future))
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                self._send_back(future, False, exc)
            else:
                self._send_back(future, True, value)
            finally:
                self._running.pop(future, None)

    def _started(self, future: asyncio.Future[Any], task: asyncio.Task[Any]) -> None:
        """(On the worker thread.) ``task`` runs ``future``'s coroutine; cancel it at once if the caller
        already has (the caller's callback may have looked before the task was known)."""
        self._running[future] = task
        if future.cancelled():
            task.cancel()
