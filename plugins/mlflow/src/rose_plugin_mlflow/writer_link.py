"""The tracker's side of the MLflow writer process (one per Python process; each campaign a :class:`Session`).

One outbox, one sender thread (``multiprocessing.connection``, one message per ``batch_interval``;
stops and flushes at once), one reader thread for answers. If the process dies, open sessions are
``lost`` and the next campaign starts a new one. Its output goes to its own log file.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import logging
import os
import subprocess
import sys
import threading
import time
from multiprocessing import Pipe
from typing import Any

import rose_plugin_mlflow
from rose_plugin_mlflow.jobs import Log

__all__ = ["Session", "WriterLink", "shutdown", "writer_command", "writer_link"]

logger = logging.getLogger("rose_plugin_mlflow")
_tokens = itertools.count(1)


class Session:
    """One campaign's connection: send jobs, wait for acknowledgements, read what MLflow made."""

    def __init__(self, link: WriterLink, number: int, batch_interval: float, queue_size: int) -> None:
        self.link, self.number, self.batch_interval, self.queue_size = link, number, batch_interval, queue_size
        self.queued = 0  # jobs in the outbox, guarded by link.condition
        self.dropped = 0
        self.run_ids: dict[Any, str] = {}
        self.experiment_id: str | None = None
        self.run_name: str | None = None
        self.disabled = False
        self.lost: str | None = None  # how the writer died while this campaign was open
        self.closed = False
        self.acks: dict[int, threading.Event] = {}

    def send(self, job: Any, wait: float | None = 0.0) -> bool:
        """Queue ``job``; False if dropped: a :class:`Log` waits up to ``wait`` s (None: no limit) for room
        in a full outbox (``queue_size``), then is dropped. Other jobs are never dropped."""
        link = self.link
        with link.condition:
            if isinstance(job, Log):
                if self.disabled or not link.alive:
                    return False
                deadline = None if wait is None else time.monotonic() + wait
                while self.queued >= self.queue_size and link.alive:
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        self.dropped += 1
                        return False
                    link.condition.wait(remaining)
            link.queue(self, job, 0)
        return True

    def request(self, job: Any, timeout: float | None) -> bool:
        """Send ``job`` (None: a flush) and wait until the writer has done everything before it and it; False on timeout."""
        token = next(_tokens)
        done = self.acks[token] = threading.Event()
        with self.link.condition:
            if not self.link.alive:
                return True  # nothing more can be written; the warning was given when the process died
            self.link.queue(self, job, token)
        if done.wait(timeout):
            return True
        self.link.stalled = True
        return False


class WriterLink:
    """The writer process and the two threads that talk to it."""

    def __init__(self, log_path: str) -> None:
        package_root = os.path.dirname(os.path.dirname(os.path.abspath(rose_plugin_mlflow.__file__)))
        jobs_in, self._out = Pipe(duplex=False)
        self._in, answers_out = Pipe(duplex=False)
        self.log_path = log_path
        try:
            os.makedirs(os.path.dirname(log_path) or ".", exist_ok=True)
            with open(log_path, "ab") as log:
                self.process = subprocess.Popen(  # our own module, run by this interpreter
                    [*writer_command(package_root), str(jobs_in.fileno()), str(answers_out.fileno())],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, pass_fds=(jobs_in.fileno(), answers_out.fileno()),
                    # its own session: a signal to the campaign's process group (Ctrl-C, a batch
                    # system killing the job step's group) leaves it alive to end the runs
                    start_new_session=True,
                )
        except OSError:
            self._out.close()
            self._in.close()
            raise
        finally:
            jobs_in.close()
            answers_out.close()
        self.pid = os.getpid()
        self.condition = threading.Condition()
        self.alive = True
        self.closing = False
        self.stalled = False  # a campaign gave up waiting for it: do not wait again at exit
        self.sessions: dict[int, Session] = {}
        self._numbers = itertools.count(1)
        self._outbox: list[tuple[Session, Any, int]] = []
        self._first_queued = 0.0
        self._urgent = False
        name = f"rose-mlflow-writer[{self.process.pid}]"
        self._sender = threading.Thread(target=self._send_loop, name=name + "-send", daemon=True)
        self._sender.start()
        threading.Thread(target=self._read_loop, name=name + "-read", daemon=True).start()

    def open_session(self, *, batch_interval: float, queue_size: int) -> Session:
        """A new campaign on this process."""
        with self.condition:
            session = Session(self, next(self._numbers), batch_interval, queue_size)
            self.sessions[session.number] = session
        return session

    def queue(self, session: Session, job: Any, token: int) -> None:
        """Add a job to the outbox (``condition`` held); wake the sender only when it must act (an answer is awaited)."""
        if not self._outbox or token:  # the sender waits for a first job, then for one awaited
            self.condition.notify_all()
        if not self._outbox:
            self._first_queued = time.monotonic()
        self._outbox.append((session, job, token))
        session.queued += 1
        self._urgent = self._urgent or bool(token)

    def forget(self, session: Session) -> None:
        """The campaign is over: its answers are no longer needed."""
        with self.condition:
            session.closed = True
            self.sessions.pop(session.number, None)

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
            logger.warning("MLflow writer process %d still writing after %s s; leaving it to finish on its own "
                           "(its log: %s)", self.process.pid, timeout, self.log_path)

    # the two threads ---------------------------------------------------------------------
    def _send_loop(self) -> None:
        with self._out:
            while True:
                with self.condition:
                    while not self._outbox and not self.closing:
                        self.condition.wait()
                    if not self._outbox:
                        return  # closing, nothing left
                    deadline = self._first_queued + min(session.batch_interval for session, _, _ in self._outbox)
                    while not (self._urgent or self.closing) and (left := deadline - time.monotonic()) > 0:
                        self.condition.wait(left)
                    batch, self._outbox, self._urgent = self._outbox, [], False
                try:
                    self._out.send([(session.number, job, token) for session, job, token in batch])
                except (OSError, ValueError):
                    return  # the process is gone; the reader reports it
                finally:
                    with self.condition:
                        for session, _, _ in batch:
                            session.queued -= 1
                        self.condition.notify_all()

    def _read_loop(self) -> None:
        try:
            while True:
                self._dispatch(*self._in.recv())
        except (EOFError, OSError):
            pass
        except Exception:  # a garbled answer: treat the process as gone
            logger.debug("unreadable answer from the MLflow writer process", exc_info=True)
        self._gone()

    def _dispatch(self, kind: str, *args: Any) -> None:
        if kind == "log":
            logging.getLogger(args[1]).log(args[0], "%s", args[2])
        elif (session := self.sessions.get(args[0])) is None:
            return
        elif kind == "run":
            session.run_ids[args[1]] = args[2]
        elif kind == "started":
            session.experiment_id, session.run_name = args[1], args[2]
        elif kind == "disabled":
            session.disabled = True
        elif kind == "done" and (done := session.acks.pop(args[1], None)) is not None:
            done.set()

    def _gone(self) -> None:
        with self.condition:
            self.alive = False
            open_sessions = [s for s in self.sessions.values() if not s.closed]
            self.sessions.clear()
            self.condition.notify_all()
        code: int | None = None
        if not self.closing:  # else close() waits for the process
            with contextlib.suppress(subprocess.TimeoutExpired):
                code = self.process.wait(timeout=5)
        for session in open_sessions:
            session.lost = f"MLflow writer process {self.process.pid} ended (exit code {code})"
            session.disabled = True
            for done in session.acks.values():
                done.set()
        if open_sessions and not self.closing:
            logger.warning(
                "MLflow writer process %d ended unexpectedly (exit code %s; its log: %s). MLflow tracking pauses "
                "for %d running campaign(s); the campaigns go on, and at the end of each a new writer ends its "
                "MLflow run(s) with every metric of its journal.", self.process.pid, code, self.log_path, len(open_sessions),
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
    """The writer's command line (its two pipe descriptors follow): this interpreter, isolated."""
    return [sys.executable, "-I", "-c", _BOOTSTRAP, package_root]


_link: WriterLink | None = None
_link_lock = threading.Lock()


def writer_link(log_path: str | None = None) -> WriterLink:
    """This process's writer, started on first use (and again after it died or after a fork).

    A new writer writes its output to ``log_path`` (default ``./runs/mlflow-writer.log``).
    """
    global _link
    with _link_lock:
        if _link is None or not _link.alive or _link.pid != os.getpid():
            _link = WriterLink(log_path or os.path.abspath(os.path.join("runs", "mlflow-writer.log")))
        return _link


def shutdown(timeout: float | None = 30.0) -> None:
    """Let the writer finish what it was sent and exit (at interpreter exit, or in tests)."""
    global _link
    with _link_lock:
        link, _link = _link, None
    if link is not None and link.pid == os.getpid():
        link.close(timeout)


atexit.register(shutdown)
