"""The tracker's side of the MLflow writer process (one per Python process; each campaign a :class:`Session`).

Jobs go straight into one pipe (``multiprocessing.connection``) from the thread that makes them: ROSE's
tracker thread already keeps them off the event loop, in order, so the pipe is the one outbox and the
writer process batches the MLflow writes. One reader thread takes the answers. If the process dies,
open sessions are ``lost`` and the next campaign starts a new one. Its output goes to its own log file.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import logging
import os
import select
import subprocess
import sys
import threading
import time
from multiprocessing import Pipe
from typing import Any

import rose_plugin_mlflow

__all__ = ["Session", "WriterLink", "shutdown", "writer_command", "writer_link"]

logger = logging.getLogger("rose_plugin_mlflow")
_tokens = itertools.count(1)
PIPE_BYTES = 1 << 20  # room for a few thousand updates while MLflow is busy (Linux; else the system's pipe size)


class Session:
    """One campaign's connection: send jobs, wait for acknowledgements, read what MLflow made."""

    def __init__(self, link: WriterLink, number: int) -> None:
        self.link, self.number = link, number
        self.dropped = 0  # updates not sent: the pipe stayed full
        self.run_ids: dict[Any, str] = {}
        self.experiment_id: str | None = None
        self.run_name: str | None = None
        self.disabled = False
        self.lost: str | None = None  # how the writer died while this campaign was open
        self.closed = False
        self.acks: dict[int, threading.Event] = {}

    def send(self, job: Any, wait: float | None = None) -> bool:
        """Send ``job``; False if tracking is off, the writer is gone, or the pipe stayed full ``wait`` s (None: no limit)."""
        if self.disabled:
            return False
        sent = self.link.send((self.number, job, 0), wait)
        if sent is None:
            self.dropped += 1
        return bool(sent)

    def request(self, job: Any, timeout: float | None) -> bool:
        """Send ``job`` (None: a flush) and wait until the writer has done everything before it and it; False on timeout."""
        token = next(_tokens)
        done = self.acks[token] = threading.Event()
        began = time.monotonic()
        sent = self.link.send((self.number, job, token), timeout)
        if sent is False:
            return True  # the writer is gone: nothing more can be written; the warning was given when it died
        if sent and done.wait(None if timeout is None else max(0.0, timeout - (time.monotonic() - began))):
            return True
        self.link.stalled = True
        return False


class WriterLink:
    """The writer process, the pipe to it, and the thread that reads its answers."""

    def __init__(self, log_path: str) -> None:
        package_root = os.path.dirname(os.path.dirname(os.path.abspath(rose_plugin_mlflow.__file__)))
        jobs_in, self._out = Pipe(duplex=False)
        self._in, answers_out = Pipe(duplex=False)
        with contextlib.suppress(AttributeError, OSError):  # more than the default 64 KiB; Linux only
            import fcntl

            fcntl.fcntl(self._out.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
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
        self.alive = True
        self.closing = False
        self.stalled = False  # a campaign gave up waiting for it: do not wait again at exit
        self.sessions: dict[int, Session] = {}
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()
        threading.Thread(target=self._read_loop, name=f"rose-mlflow-writer[{self.process.pid}]-read", daemon=True).start()

    def open_session(self) -> Session:
        """A new campaign on this process."""
        with self._lock:
            session = Session(self, next(self._numbers))
            self.sessions[session.number] = session
        return session

    def send(self, item: tuple[int, Any, int], wait: float | None) -> bool | None:
        """Write one job to the pipe: True, None if the pipe stayed full ``wait`` s, False if the writer is gone."""
        with self._lock:
            if not self.alive or self.closing:
                return False
            if not select.select([], [self._out], [], wait)[1]:
                return None
            try:
                self._out.send(item)
            except (OSError, ValueError):
                return False  # the process is gone; the reader reports it
        return True

    def forget(self, session: Session) -> None:
        """The campaign is over: its answers are no longer needed."""
        with self._lock:
            session.closed = True
            self.sessions.pop(session.number, None)

    def close(self, timeout: float | None) -> None:
        """Close the pipe and wait (at most ``timeout`` s) for the process to write what it was sent and exit."""
        with self._lock:
            self.closing = True
            self._out.close()
        if self.stalled:
            timeout = 0.0 if timeout is None else min(timeout, 1.0)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            logger.warning("MLflow writer process %d still writing after %s s; leaving it to finish on its own "
                           "(its log: %s)", self.process.pid, timeout, self.log_path)

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
        with self._lock:
            self.alive = False
            open_sessions = [s for s in self.sessions.values() if not s.closed]
            self.sessions.clear()
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
