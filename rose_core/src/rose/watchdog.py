"""The task watchdog: ends a campaign's task processes when the process that started them dies.

Backends that start commands in their own process groups (the local backend in the campaign
process, the Dask backend in each worker process) run one watchdog each, through
:class:`Watchdog`: ``python -I watchdog.py GRACE`` (isolated mode: nothing is imported from
the current directory), in its own session, ignoring SIGINT, SIGHUP and SIGTERM so that what
kills its parent does not kill it too. The parent writes one line per event to its stdin:

``+ PGID``  a task's process group was started
``- PGID``  that group's leader has ended (forget it)

When stdin reaches end of file (the backend shut down, or its process died, however:
``kill -9`` included) every group still listed gets SIGTERM, and SIGKILL after ``GRACE``
seconds; then the watchdog exits. It reads the pipe every :data:`DRAIN_EVERY` seconds and wakes
sooner only for its end, so a task costs the parent a pipe write but never a wake-up of a second
process (on two cores that wake-up competed with the task's own start). Only the standard library,
on purpose.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time

__all__ = ["Watchdog", "main"]

logger = logging.getLogger(__name__)


def _signal(groups: set[int], sig: int) -> set[int]:
    alive = set()
    for pgid in groups:
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            continue
        except PermissionError:
            continue
        alive.add(pgid)
    return alive


def _any_alive(groups: set[int]) -> bool:
    for pgid in groups:
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            continue
        return True
    return False


#: how often the watchdog reads what its parent wrote (seconds; it wakes sooner only for the pipe's end)
DRAIN_EVERY = 0.25
#: the pipe's capacity the watchdog asks for: news of ~50,000 commands fit between two reads
PIPE_BYTES = 1 << 20


def _apply(groups: set[int], lines: list[bytes]) -> None:
    for line in lines:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            continue
        pgid = int(parts[1])
        if parts[0] == b"+":
            groups.add(pgid)
        elif parts[0] == b"-":
            groups.discard(pgid)


def _read_until_closed(fd: int, groups: set[int]) -> None:
    """Keep ``groups`` up to date from the pipe ``fd`` until its writer has closed it.

    The pipe is polled for its end only (no events asked for: Linux then wakes a poller for a
    hang-up, not for data) and drained every :data:`DRAIN_EVERY` seconds. Elsewhere, or if the
    kernel wakes it for data after all, the loop only drains sooner.
    """
    with contextlib.suppress(OSError, AttributeError):  # best effort: Linux only
        import fcntl
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)  # type: ignore[attr-defined]
    os.set_blocking(fd, False)
    poller = select.poll()
    poller.register(fd, 0)
    partial = b""
    while True:
        poller.poll(DRAIN_EVERY * 1000)
        while True:
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                break
            if not chunk:
                _apply(groups, [partial])
                return
            lines = (partial + chunk).split(b"\n")
            partial = lines.pop()
            _apply(groups, lines)


def main(argv: list[str]) -> int:
    """Read events until EOF, then end the groups still running."""
    grace = float(argv[1]) if len(argv) > 1 else 2.0
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    groups: set[int] = set()
    _read_until_closed(sys.stdin.fileno(), groups)
    alive = _signal(groups, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while alive and time.monotonic() < deadline and _any_alive(alive):
        time.sleep(0.05)
    _signal(alive, signal.SIGKILL)
    return 0


class Watchdog:
    """The parent's end of a watchdog pipe (see the module's description).

    Started on the first command; ``started(pgid)`` / ``ended(pgid)`` tell it about task
    process groups; :meth:`close` ends it (it then signals nothing: every group has ended).
    A watchdog that cannot start or dies is logged once (naming ``owner``); tasks still run
    without it.
    """

    def __init__(self, grace: float, owner: str = "local backend") -> None:
        self.grace = grace
        self.owner = owner
        self._process: subprocess.Popen[bytes] | None = None
        self._failed = False
        self._lock = threading.Lock()
        self._ended: list[str] = []  # "- PGID" lines that go out with the next line written

    def _ensure(self) -> subprocess.Popen[bytes] | None:
        if self._process is not None or self._failed:
            return self._process
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-I", os.path.abspath(__file__), str(self.grace)],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True, close_fds=True, cwd="/",
            )
        except OSError as exc:
            self._failed = True
            logger.warning("%s: cannot start the task watchdog (%s); tasks will not be ended "
                           "if this process is killed", self.owner, exc)
        return self._process

    def _send(self, line: str) -> None:
        with self._lock:
            process = self._ensure()
            if process is None or process.stdin is None:
                return
            if self._ended:  # first: a group id used again after its "-" must stay listed
                line = "".join(self._ended) + line
                self._ended.clear()
            if not line:
                return
            try:
                process.stdin.write(line.encode())
                process.stdin.flush()
            except (BrokenPipeError, ValueError, OSError) as exc:
                self._failed, self._process = True, None
                logger.warning("%s: the task watchdog is gone (%s); tasks will not be ended if "
                               "this process is killed", self.owner, exc)

    def started(self, pgid: int) -> None:
        """A task's process group ``pgid`` now runs."""
        self._send(f"+ {pgid}\n")

    def ended(self, pgid: int, *, soon: bool = False) -> None:
        """The leader of group ``pgid`` has ended.

        With ``soon`` the news waits for the next line written (the next ``started``) or
        :meth:`flush`: one pipe write (a system call) per command instead of two. The caller
        flushes within a short time: until then a ``kill -9`` of the campaign makes the watchdog
        signal a group that has ended (nothing happens, unless its id was already used again by
        a new group).
        """
        if self._process is None:
            return
        if soon:
            with self._lock:
                self._ended.append(f"- {pgid}\n")
            return
        self._send(f"- {pgid}\n")

    def flush(self) -> None:
        """Write the ``ended(..., soon=True)`` news still waiting."""
        if self._ended:
            self._send("")

    def close(self) -> None:
        """Close the pipe and reap the watchdog (it exits at once when no group is left)."""
        self.flush()
        with self._lock:
            process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(OSError, ValueError):
            if process.stdin is not None:
                process.stdin.close()
        try:
            process.wait(self.grace + 5.0)
        except subprocess.TimeoutExpired:  # pragma: no cover - the watchdog is stuck
            process.kill()
            process.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
