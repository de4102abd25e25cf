"""Commands watched from the event loop through a pidfd: no thread per command (Linux >= 5.3).

On Python 3.11, asyncio's ``create_subprocess_exec`` watches each child with
``ThreadedChildWatcher``: one thread per process, and the event loop waits until that
thread has started. Python 3.12+ watches children through pidfds itself
(``PidfdChildWatcher``), so this module only pays for itself on 3.10/3.11. Measured with
``benchmarks/spawn.py`` (scenario 9: 200 commands, 8 concurrent, 2 rounds; both watchers back
to back, Python 3.11.7, 2 cores under a load average of 12-17 from other jobs): CPU per
command 0.77 ms with pidfds vs 1.12 ms with asyncio's watcher (sequential), 0.74 vs 1.03 ms
(concurrent), i.e. about 30% less; wall time per command was 5.9 vs 3.7 ms and 5.0 vs 3.5 ms,
within this machine's noise under that load (another run gave 11.1 ms with pidfds).

A command needs three descriptors watched (stdout, stderr, its pidfd). Asyncio's
``add_reader``/``remove_reader`` cost several microseconds of Python each (selector
bookkeeping), six per command: a :class:`Poller` keeps them in one private epoll set
instead (one C call each), which the event loop watches as a single descriptor for the
loop's lifetime. :func:`start` falls back to asyncio's own subprocess support where the
kernel or the event loop cannot watch pidfds.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import select
import subprocess
import weakref
from collections.abc import Callable
from typing import Any

__all__ = ["Child", "Poller", "Process", "spawn", "start", "watches_pidfds"]

logger = logging.getLogger("rose_plugin_local.backend")

class Poller:
    """One epoll set for the commands started on one event loop, which watches it as one descriptor.

    Nested epoll: the set's own descriptor is readable while any member is (level-triggered),
    and then :meth:`_dispatch` calls the callbacks of the members that are ready. Made once
    per event loop (:meth:`of`) and closed when that loop is garbage-collected.
    """

    _by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Poller] = weakref.WeakKeyDictionary()

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._epoll = select.epoll()
        self._callbacks: dict[int, Callable[[], None]] = {}
        loop.add_reader(self._epoll.fileno(), self._dispatch)
        weakref.finalize(loop, self._epoll.close)

    @classmethod
    def of(cls, loop: asyncio.AbstractEventLoop) -> Poller:
        """The poller of ``loop``, made on first use."""
        poller = cls._by_loop.get(loop)
        if poller is None:
            poller = cls._by_loop[loop] = cls(loop)
        return poller

    def add(self, fd: int, callback: Callable[[], None]) -> None:
        """Call ``callback()`` from the event loop whenever ``fd`` is readable."""
        self._epoll.register(fd, select.EPOLLIN)
        self._callbacks[fd] = callback

    def remove(self, fd: int) -> None:
        """Stop watching ``fd`` (before it is closed); nothing if it is not watched."""
        if self._callbacks.pop(fd, None) is not None:
            self._epoll.unregister(fd)

    def _dispatch(self) -> None:
        for fd, _events in self._epoll.poll(0):
            callback = self._callbacks.get(fd)
            if callback is not None:
                callback()


class Child:
    """A command's process, watched from the event loop without a thread.

    Its exit is seen through a pidfd (``os.pidfd_open``, Linux >= 5.3) and its stdout and
    stderr are read with non-blocking reads when the loop reports them readable. asyncio's
    ``create_subprocess_exec`` on Python 3.11 uses ``ThreadedChildWatcher``: one thread per
    process, and the event loop blocks until that thread has started (with busy threads on
    2 cores, 0.1-2 ms per spawn; benchmarks/spawn.py). Same interface as
    :class:`asyncio.subprocess.Process` for what the backend uses: ``pid``, ``returncode``,
    ``wait()``, ``communicate()``; :meth:`close` releases the descriptors.
    """

    def __init__(self, popen: subprocess.Popen[bytes], pidfd: int, loop: asyncio.AbstractEventLoop) -> None:
        self.pid = popen.pid
        self._popen = popen
        self._loop = loop
        self._poller = Poller.of(loop)
        self._pidfd = pidfd
        self._code: int | None = None  # the exit code, once reaped
        # one future per waiting call, not asyncio.shield around shared ones: a cancelled
        # wait cancels only its own future, and the waiter resumes one loop turn sooner
        self._exit_waiters: list[asyncio.Future[None]] = []
        self._end_waiters: list[asyncio.Future[None]] = []  # exit and end of file on both pipes
        self._chunks: dict[int, list[bytes]] = {}
        self._reading: set[int] = set()
        self._on_end: Callable[[], None] | None = None
        for pipe in (popen.stdout, popen.stderr):
            if pipe is not None:
                fd = pipe.fileno()
                os.set_blocking(fd, False)
                self._chunks[fd] = []
                self._reading.add(fd)
                self._poller.add(fd, functools.partial(self._read, fd))
        self._poller.add(pidfd, self._reap)

    @property
    def returncode(self) -> int | None:
        """The exit code (negative: killed by that signal), None while it runs."""
        return self._popen.returncode

    def on_end(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` once, when the process has exited and both pipes are at end of file.

        It runs in the loop turn that saw the last of those (no coroutine to wake, no turn
        in between); :meth:`output` then has everything the process wrote.
        """
        self._on_end = callback

    def output(self) -> tuple[bytes, bytes]:
        """``(stdout, stderr)`` as read so far (all of it once the process has ended)."""
        out, err = (self._popen.stdout, self._popen.stderr)
        return (
            b"".join(self._chunks[out.fileno()]) if out is not None else b"",
            b"".join(self._chunks[err.fileno()]) if err is not None else b"",
        )

    def _read(self, fd: int) -> None:
        try:
            data = os.read(fd, 65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if data:
            self._chunks[fd].append(data)
            return
        self._poller.remove(fd)
        self._reading.discard(fd)
        if not self._reading:
            self._release()

    def _reap(self) -> None:
        # the pidfd is readable once the process has exited: this waitpid does not block
        code = self._popen.poll()
        if code is None:
            # not reaped: a readiness meant for an earlier descriptor of the same number (closed
            # and reused within one dispatch), or another thread in this Popen's waitpid; the
            # set is level-triggered, so a real exit is reported again
            return
        self._poller.remove(self._pidfd)
        os.close(self._pidfd)
        self._pidfd = -1
        self._code = code
        self._release()

    def _release(self) -> None:
        """Resume the waits that can end now."""
        if self._code is None:
            return
        waiting = self._exit_waiters + (self._end_waiters if not self._reading else [])
        self._exit_waiters = []
        if not self._reading:
            self._end_waiters = []
        for waiter in waiting:
            if not waiter.done():
                waiter.set_result(None)
        if not self._reading and self._on_end is not None:
            callback, self._on_end = self._on_end, None
            callback()

    async def _until(self, waiters: list[asyncio.Future[None]]) -> None:
        waiter = self._loop.create_future()
        waiters.append(waiter)
        await waiter

    async def wait(self) -> int:
        """Wait for the process to exit; its exit code."""
        if self._code is None:
            await self._until(self._exit_waiters)
        assert self._code is not None
        return self._code

    async def communicate(self) -> tuple[bytes, bytes]:
        """Wait for end of file on both pipes and for the exit; ``(stdout, stderr)``."""
        if self._code is None or self._reading:
            await self._until(self._end_waiters)
        return self.output()

    def close(self) -> None:
        """Stop watching; close the pipes and the pidfd (the process is reaped if it has exited)."""
        for fd in list(self._reading):
            self._poller.remove(fd)
        self._reading.clear()
        for pipe in (self._popen.stdout, self._popen.stderr):
            if pipe is not None:
                pipe.close()
        if self._pidfd >= 0:
            self._poller.remove(self._pidfd)
            if self._popen.poll() is None:
                # still running (a cancellation that could not end it): let subprocess reap it later
                logger.warning("process %d did not exit; it is no longer watched", self.pid)
            os.close(self._pidfd)
            self._pidfd = -1


Process = Child | asyncio.subprocess.Process
_PIDFD: bool | None = None  # whether the kernel gives pidfds, once checked
_LOOPS_WITH_READERS: dict[type, bool] = {}  # event loop class -> accepts add_reader on a pidfd


def _pidfd_supported() -> bool:
    """Whether this kernel gives pidfds (Linux >= 5.3); checked once."""
    global _PIDFD
    if _PIDFD is None:
        try:
            os.close(os.pidfd_open(os.getpid()))
            _PIDFD = True
        except (AttributeError, OSError):
            _PIDFD = False
    return _PIDFD


def watches_pidfds(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether commands can be watched through pidfds on ``loop``: the kernel gives them and
    the loop accepts file descriptor readers (selector loops and uvloop do); checked once per loop class."""
    if not _pidfd_supported():
        return False
    kind = type(loop)
    if kind not in _LOOPS_WITH_READERS:
        fd = os.pidfd_open(os.getpid())
        try:
            loop.add_reader(fd, lambda: None)
            loop.remove_reader(fd)
            _LOOPS_WITH_READERS[kind] = True
        except (NotImplementedError, OSError, ValueError, RuntimeError):
            _LOOPS_WITH_READERS[kind] = False
        finally:
            os.close(fd)
    return _LOOPS_WITH_READERS[kind]


async def start(
    command: str | list[str], *, shell: bool, stdout: Any, stderr: Any, cwd: str | None, env: dict[str, str] | None
) -> Process:
    """Start ``command`` in its own session (vfork + exec: no ``preexec_fn``), output to pipes or files.

    A :class:`Child` where :func:`watches_pidfds`, else asyncio's own process.
    """
    if not watches_pidfds(asyncio.get_running_loop()):
        if shell:
            assert isinstance(command, str)
            return await asyncio.create_subprocess_shell(
                command, stdout=stdout, stderr=stderr, cwd=cwd, env=env, start_new_session=True
            )
        return await asyncio.create_subprocess_exec(
            *command, stdout=stdout, stderr=stderr, cwd=cwd, env=env, start_new_session=True
        )
    return spawn(command, shell=shell, stdout=stdout, stderr=stderr, cwd=cwd, env=env)


def spawn(
    command: str | list[str], *, shell: bool, stdout: Any, stderr: Any, cwd: str | None, env: dict[str, str] | None
) -> Child:
    """:func:`start` without awaiting: the process runs when this returns.

    Only where :func:`watches_pidfds` is true for the running loop.
    """
    loop = asyncio.get_running_loop()
    popen = subprocess.Popen(
        command, shell=shell, stdout=stdout, stderr=stderr, cwd=cwd, env=env, start_new_session=True, bufsize=0
    )
    try:
        pidfd = os.pidfd_open(popen.pid)
    except OSError:  # pragma: no cover - pidfds worked a moment ago
        popen.kill()
        popen.wait()
        raise
    return Child(popen, pidfd, loop)
