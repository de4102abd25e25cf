"""A command task's run, from its spawn to its end, followed by callbacks instead of a coroutine.

:class:`CommandRun` is the future of one running command. It watches the process through
:meth:`Child.on_end <rose_plugin_local.children.Child.on_end>` (pidfds) or a ``communicate()``
task (asyncio's own processes), and settles in the loop turn that saw the process end with
all its output. The backend can so start a command inside the turn that submits it and
report its end inside the turn that sees it: on the sequential chain of ``/bin/true`` tasks
of scenario 9 that is two loop turns and five coroutine frames less per command.

Cancelling a run stops its process group (SIGTERM, SIGKILL after the grace); like
``Task.cancel()``, :meth:`CommandRun.cancel` returns True at once and the run is done
(cancelled) only once the process is gone, so whoever awaits it (a task, or the backend's
shutdown) sees the process ended.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import IO, Any

from rose.processes import process_start_time
from rose_plugin_local.children import Child, Process

__all__ = ["SPAWN_RECORD_DELAY", "CommandRun"]

logger = logging.getLogger("rose_plugin_local.backend")

#: a command running this long after its spawn is reported to ``task["rose_on_spawn"]`` (journaled)
SPAWN_RECORD_DELAY = 0.02

Stop = Callable[[Process, dict[str, Any]], Awaitable[None]]


class CommandRun(asyncio.Future):  # type: ignore[type-arg]
    """One command task, from its submission until its process has ended; done with ``(task, state)``.

    Made before the process exists (it may wait for a slot); :meth:`follow` hands it the
    started process and ``files``, the task's capture files (closed at the end).
    ``stop(process, task)`` ends the process group of a cancelled run. ``on_end(run)`` is
    called once, when the run is done (ended, failed, cancelled, or cancelled before it
    started), in the same loop turn, after the process's descriptors and files are closed.
    ``slots`` and ``withdraw`` are the backend's: the slots the run holds, and how to leave
    the queue for them.
    """

    __slots__ = (
        "_files", "_on_end", "_reading", "_report", "_stop", "_stopping", "process", "slots", "task", "withdraw",
    )

    def __init__(self, task: dict[str, Any], *, stop: Stop, on_end: Callable[[CommandRun], None]) -> None:
        super().__init__(loop=asyncio.get_running_loop())
        self.task = task
        self.process: Process | None = None
        self.slots = 0
        self.withdraw: Callable[[], None] | None = None
        self._files: tuple[IO[bytes], ...] = ()
        self._stop = stop
        self._on_end: Callable[[CommandRun], None] | None = on_end
        self._stopping: asyncio.Task[None] | None = None
        self._report: asyncio.TimerHandle | None = None
        self._reading: asyncio.Task[tuple[bytes, bytes]] | None = None

    def follow(self, process: Process, files: tuple[IO[bytes], ...]) -> None:
        """The command runs as ``process``: settle when it has ended and its output is read."""
        loop = self.get_loop()
        self.process, self._files = process, files
        self._report = loop.call_later(SPAWN_RECORD_DELAY, _report_spawn, self.task, process.pid)
        if isinstance(process, Child):
            process.on_end(self._ended)
        else:  # asyncio's own process (no pidfds here): a task reads its output
            self._reading = loop.create_task(process.communicate())
            self._reading.add_done_callback(self._communicated)

    def finish(self, task: dict[str, Any], state: str) -> None:
        """Settle a run whose command did not start (``state`` FAILED, the reason in ``task``)."""
        if not self.done():
            self.set_result((task, state))
            self._end()

    def fail(self, error: BaseException) -> None:
        """Settle a run that could not be started or followed with ``error``."""
        if not self.done():
            self._close()
            self.set_exception(error)
            self._end()

    def _ended(self) -> None:
        assert isinstance(self.process, Child)
        self._settle(*self.process.output())

    def _communicated(self, reading: asyncio.Task[tuple[bytes, bytes]]) -> None:
        if reading.cancelled() or self.done() or self._stopping is not None:
            return
        error = reading.exception()
        if error is not None:
            self.fail(error)
            return
        self._settle(*reading.result())

    def _settle(self, stdout: bytes, stderr: bytes) -> None:
        if self.done() or self._stopping is not None:
            return  # cancelled: _stopped finishes the run
        self._close()
        code = self.process.returncode if self.process is not None else None
        task = self.task
        if self._files:
            task.update({"stdout": self._files[0].name, "stderr": self._files[1].name, "exit_code": code})
        else:
            task.update(
                {"stdout": stdout.decode(errors="replace"), "stderr": stderr.decode(errors="replace"), "exit_code": code}
            )
        self.set_result((task, "DONE" if code == 0 else "FAILED"))
        self._end()

    def cancel(self, msg: Any = None) -> bool:
        """Stop the process group; True if this call started that (done once the process is gone).

        A run still waiting for a slot leaves the queue and is done (cancelled) at once.
        """
        if self.done() or self._stopping is not None:
            return False
        if self.process is None:
            if self.withdraw is not None:
                self.withdraw()
            super().cancel(msg=msg)
            self._end()
            return True
        self._stopping = self.get_loop().create_task(self._stopped(msg))
        return True

    async def _stopped(self, msg: Any) -> None:
        assert self.process is not None
        try:
            await self._stop(self.process, self.task)
        finally:
            self._close()
            super().cancel(msg=msg)
            self._end()

    def _close(self) -> None:
        if self._report is not None:
            self._report.cancel()
        if isinstance(self.process, Child):
            self.process.close()
        elif self._reading is not None and not self._reading.done():
            self._reading.cancel()  # stopped: what a process outside the group still writes is not waited for
        for handle in self._files:
            handle.close()  # a second close does nothing

    def _end(self) -> None:
        on_end, self._on_end = self._on_end, None
        if on_end is not None:
            on_end(self)


def _report_spawn(task: dict[str, Any], pid: int) -> None:
    """Call ``task["rose_on_spawn"]({"pid", "pgid", "start_time"})`` if the core set one."""
    callback = task.get("rose_on_spawn")
    if not callable(callback):
        return
    try:
        callback({"pid": pid, "pgid": pid, "start_time": process_start_time(pid)})
    except Exception:  # bookkeeping must not fail the task
        logger.warning("rose_on_spawn of task %s failed", task.get("name", task["uid"]), exc_info=True)
