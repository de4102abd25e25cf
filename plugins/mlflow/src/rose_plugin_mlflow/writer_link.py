"""The tracker's side of the MLflow writer process: start it, batch jobs to it, hear back.

One writer process serves every campaign of this Python process (``writer_link()``); each
campaign is a :class:`Session`. Jobs wait in an outbox that a sender thread writes to the
process as one frame per ``batch_interval``; ``Stop`` and ``Flush`` go at once and are
acknowledged. A reader thread takes the process's answers (run ids, acknowledgements, log
records, which are logged here under their own logger names). If the process dies, every
open campaign is told (its tracking turns off, with a warning) and the next campaign starts
a new process.
"""

from __future__ import annotations

import atexit
import itertools
import logging
import os
import subprocess
import sys
import threading
import time
from typing import Any

import rose_plugin_mlflow
from rose_plugin_mlflow.jobs import Flush, Log, Stop
from rose_plugin_mlflow.wire import read_frame, write_frame

__all__ = ["Session", "WriterLink", "shutdown", "writer_command", "writer_link"]

logger = logging.getLogger("rose_plugin_mlflow")


class Session:
    """One campaign's connection: send jobs, wait for acknowledgements, read what MLflow made."""

    def __init__(self, link: WriterLink, number: int, batch_interval: float, queue_size: int) -> None:
        self.link = link
        self.number = number
        self.batch_interval = batch_interval
        self.queue_size = queue_size
        self.queued = 0  # jobs in the outbox, guarded by link.condition
        self.dropped = 0
        self.run_ids: dict[Any, str] = {}
        self.experiment_id: str | None = None
        self.run_name: str | None = None
        self.disabled = False
        self.closed = False
        self._acks: dict[int, threading.Event] = {}

    def send(self, job: Any, *, wait: float | None = 0.0) -> bool:
        """Queue ``job``; False if it was dropped.

        A full outbox (``queue_size`` jobs) makes a log job wait up to ``wait`` seconds
        (``None``: without limit) for room, then drop it; ``0`` drops it at once (the event
        loop never waits). ``Start`` is never dropped and goes with the first batch; ``Stop``
        and ``Flush`` leave at once.
        """
        link = self.link
        urgent = isinstance(job, (Stop, Flush))
        with link.condition:
            if isinstance(job, Log) and (self.disabled or not link.alive):
                return False
            if isinstance(job, Log) and self.queued >= self.queue_size:
                deadline = None if wait is None else time.monotonic() + wait
                while self.queued >= self.queue_size and link.alive:
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        self.dropped += 1
                        return False
                    link.condition.wait(remaining)
            link.queue(self, job, urgent=urgent)
        return True

    def request(self, job: Stop | Flush, timeout: float | None) -> bool:
        """Send ``job`` and wait until the writer has done everything before it and it; False on timeout."""
        done = threading.Event()
        with self.link.condition:
            if not self.link.alive:
                return True  # nothing more can be written; the warning was given when the process died
            self._acks[job.token] = done
        self.send(job)
        if done.wait(timeout):
            return True
        self.link.stalled = True
        return False

    def acknowledge(self, token: int) -> None:
        """The writer finished the job with this token."""
        done = self._acks.pop(token, None)
        if done is not None:
            done.set()

    def release_all(self) -> None:
        """The writer is gone: nobody should wait for it."""
        for done in self._acks.values():
            done.set()
        self._acks.clear()


class WriterLink:
    """The writer process and the two threads that talk to it."""

    def __init__(self) -> None:
        package_root = os.path.dirname(os.path.dirname(os.path.abspath(rose_plugin_mlflow.__file__)))
        self.process = subprocess.Popen(  # our own module, run by this interpreter
            writer_command(package_root),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True,
            # its own session: a signal to the campaign's process group (Ctrl-C, a batch system
            # killing the job step's group) leaves it alive to end the runs as KILLED
            start_new_session=True,
        )
        self.pid = os.getpid()
        self.condition = threading.Condition()
        self.alive = True
        self.closing = False
        self.stalled = False  # a campaign gave up waiting for it: do not wait again at exit
        self.sessions: dict[int, Session] = {}
        self._numbers = itertools.count(1)
        self._outbox: list[tuple[Session, Any]] = []
        self._first_queued = 0.0
        self._urgent = False
        name = f"rose-mlflow-writer[{self.process.pid}]"
        self._sender = threading.Thread(target=self._send_loop, name=name + "-send", daemon=True)
        self._reader = threading.Thread(target=self._read_loop, name=name + "-read", daemon=True)
        self._sender.start()
        self._reader.start()

    def open_session(self, *, batch_interval: float, queue_size: int) -> Session:
        """A new campaign on this process."""
        with self.condition:
            session = Session(self, next(self._numbers), batch_interval, queue_size)
            self.sessions[session.number] = session
        return session

    def queue(self, session: Session, job: Any, *, urgent: bool) -> None:
        """Add a job to the outbox (``condition`` held); wake the sender only when it must act."""
        was_empty = not self._outbox
        self._outbox.append((session, job))
        session.queued += 1
        if was_empty:
            self._first_queued = time.monotonic()
        if urgent:
            self._urgent = True
        if was_empty or urgent:
            self.condition.notify_all()

    def close(self, timeout: float | None) -> None:
        """Send what is queued, close the pipe and wait (``timeout`` in all) for the process to finish writing."""
        with self.condition:
            self.closing = True
            self.condition.notify_all()
        if self.stalled:
            timeout = 0.0 if timeout is None else min(timeout, 1.0)
        deadline = None if timeout is None else time.monotonic() + timeout
        self._sender.join(timeout)
        try:
            self.process.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            logger.warning("MLflow writer process %d still writing after %s s; leaving it to finish on its own",
                           self.process.pid, timeout)

    # the two threads ---------------------------------------------------------------------
    def _send_loop(self) -> None:
        stream = self.process.stdin
        assert stream is not None
        try:
            while True:
                with self.condition:
                    while not self._outbox and not self.closing:
                        self.condition.wait()
                    if not self._outbox:
                        return  # closing, nothing left
                    interval = min(session.batch_interval for session, _ in self._outbox)
                    deadline = self._first_queued + interval
                    while not (self._urgent or self.closing) and (left := deadline - time.monotonic()) > 0:
                        self.condition.wait(left)
                    batch, self._outbox, self._urgent = self._outbox, [], False
                try:
                    write_frame(stream, [(session.number, job) for session, job in batch])
                except (BrokenPipeError, OSError, ValueError):
                    return  # the process is gone; the reader reports it
                finally:
                    with self.condition:
                        for session, _ in batch:
                            session.queued -= 1
                        self.condition.notify_all()
        finally:
            try:
                stream.close()
            except OSError:
                pass

    def _read_loop(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        try:
            while True:
                self._dispatch(read_frame(stream))
        except (EOFError, OSError, ValueError):
            pass
        except Exception:  # a garbled answer: treat the process as gone
            logger.debug("unreadable answer from the MLflow writer process", exc_info=True)
        self._gone()

    def _dispatch(self, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "log":
            _, level, name, text = message
            logging.getLogger(name).log(level, "%s", text)
            return
        if kind == "ready":
            logger.debug("MLflow writer process %d is ready", message[1])
            return
        session = self.sessions.get(message[1])
        if session is None:
            return
        if kind == "run":
            session.run_ids[message[2]] = message[3]
        elif kind == "started":
            session.experiment_id, session.run_name = message[2], message[3]
        elif kind == "disabled":
            session.disabled = True
        elif kind == "done":
            session.acknowledge(message[2])
        elif kind == "stopped":
            with self.condition:
                session.closed = True
                self.sessions.pop(session.number, None)

    def _gone(self) -> None:
        with self.condition:
            self.alive = False
            open_sessions = [s for s in self.sessions.values() if not s.closed]
            self.sessions.clear()
            self.condition.notify_all()
        for session in open_sessions:
            session.disabled = True
            session.release_all()
        if self.closing:
            return  # close() waits for the process
        try:
            code: int | None = self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        if open_sessions:
            logger.warning(
                "MLflow writer process %d ended unexpectedly (exit code %s; its error output, if any, is above). "
                "MLflow tracking is off for %d running campaign(s); the campaigns go on, and the next campaign "
                "starts a new writer.", self.process.pid, code, len(open_sessions),
            )


#: what the writer process runs: isolated mode (-I: no current directory, script directory,
#: PYTHON* variables or user site on sys.path), so a file such as ./mlflow.py is never imported
_BOOTSTRAP = (
    "import sys\n"
    "root = sys.argv[1]\n"
    "if root not in sys.path:\n"
    "    sys.path.append(root)\n"
    "from rose_plugin_mlflow.writer_process import main\n"
    "main()\n"
)


def writer_command(package_root: str) -> list[str]:
    """The writer process's command line: this interpreter, isolated, finding this package at ``package_root``."""
    return [sys.executable, "-I", "-c", _BOOTSTRAP, package_root]


_link: WriterLink | None = None
_link_lock = threading.Lock()


def writer_link() -> WriterLink:
    """This process's writer, started on first use (and again after it died or after a fork)."""
    global _link
    with _link_lock:
        if _link is None or not _link.alive or _link.pid != os.getpid():
            _link = WriterLink()
        return _link


def shutdown(timeout: float | None = 30.0) -> None:
    """Let the writer finish what it was sent and exit (at interpreter exit, or in tests)."""
    global _link
    with _link_lock:
        link, _link = _link, None
    if link is not None and link.pid == os.getpid():
        link.close(timeout)


atexit.register(shutdown)
