"""The MLflow writer process (``python -I``, started by ``writer_link``): job batches in, answers out.

It ignores SIGINT and SIGTERM (Ctrl-C reaches the whole process group; the campaign still needs it
to record ``stop_reason=stopped``) and exits when the campaign closes the pipe; a campaign that did
not stop first (killed) gets its runs ended from its journal (:meth:`RunWriter.abandon`).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from multiprocessing.connection import Connection
from typing import Any

from rose_plugin_mlflow.jobs import Flush, Log, Recover, Start, Stop, http_retry_settings
from rose_plugin_mlflow.run_writer import RunWriter

__all__ = ["main"]


class _Relay(logging.Handler):
    """Send this package's log records to the campaign's process; once it is gone, to the log file."""

    def __init__(self, server: _Server) -> None:
        super().__init__()
        self.server = server

    def emit(self, record: logging.LogRecord) -> None:
        if not self.server.answer(("log", record.levelno, record.name, self.format(record))):
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()


class _Server:
    """Reads job batches, runs them with one RunWriter per campaign, answers."""

    def __init__(self, inbox: Connection, outbox: Connection) -> None:
        self.inbox = inbox
        self.outbox = outbox
        self.writers: dict[int, RunWriter] = {}
        self.campaign_gone = False

    def answer(self, message: tuple[Any, ...]) -> bool:
        """Answer the campaign; False (never an exception) once its process is gone."""
        if not self.campaign_gone:
            try:
                self.outbox.send(message)
                return True
            except (OSError, ValueError):
                self.campaign_gone = True
        return False

    def serve(self) -> None:
        while True:
            items: list[tuple[int, Any]] = []
            try:
                items.extend(self.inbox.recv())
                while len(items) < 10_000 and self.inbox.poll(0):
                    items.extend(self.inbox.recv())
            except (EOFError, OSError):  # closed, or cut off in the middle of a message
                self.handle(items)
                for writer in self.writers.values():
                    writer.abandon()
                return
            self.handle(items)

    def handle(self, items: list[tuple[int, Any]]) -> None:
        """Run the jobs in order; consecutive logs of a run are merged into one MLflow write."""
        pending: dict[int, dict[Any, Log]] = {}
        for session, job in items:
            if isinstance(job, Log):
                runs = pending.setdefault(session, {})
                if job.run in runs:
                    runs[job.run].merge(job)
                else:
                    runs[job.run] = job
                continue
            self.write(pending)
            pending = {}
            if isinstance(job, Start):
                self.start(session, job).start(job)
            elif isinstance(job, Recover):
                self.start(session, job.start).recover(job)
                self.writers.pop(session, None)
            elif isinstance(job, Stop):
                writer = self.writers.pop(session, None)
                if writer is not None:
                    writer.stop(job)
            if isinstance(job, (Stop, Flush, Recover)):
                self.answer(("done", session, job.token))
        self.write(pending)

    def start(self, session: int, job: Start) -> RunWriter:
        """A RunWriter for the campaign, in the campaign's environment and directory."""
        os.environ.clear()
        os.environ.update(job.environ)
        for name, value in http_retry_settings(job.retry_budget).items():
            os.environ.setdefault(name, value)  # the user's own MLFLOW_HTTP_REQUEST_* settings win
        try:
            os.chdir(job.cwd)
        except OSError:
            pass  # the directory is gone; absolute store paths still work
        logging.getLogger("rose_plugin_mlflow").setLevel(job.log_level)
        writer = self.writers[session] = RunWriter(lambda message: self.answer((message[0], session, *message[1:])))
        return writer

    def write(self, pending: dict[int, dict[Any, Log]]) -> None:
        for session, runs in pending.items():
            writer = self.writers.get(session)
            if writer is not None:
                writer.write(runs)


def main() -> None:
    """Serve the tracker on the two pipes whose descriptors are the last two arguments."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:  # the lowest CPU priority (nice, not SCHED_IDLE: a busy node must not starve it)
        os.nice(19)
    except (AttributeError, OSError):  # no os.nice on Windows
        pass
    server = _Server(Connection(int(sys.argv[-2]), writable=False), Connection(int(sys.argv[-1]), readable=False))
    package_logger = logging.getLogger("rose_plugin_mlflow")
    package_logger.addHandler(_Relay(server))
    package_logger.propagate = False
    server.answer(("ready", os.getpid()))
    server.serve()
