"""The MLflow writer process, started in isolated mode (``python -I``, see ``writer_link``).

The tracker starts one per Python process, on its first campaign, and keeps it for every
later one. It reads batches of jobs (``[(session, job), ...]``) from its standard input and
answers on its standard output with run ids, acknowledgements and log records; MLflow's
own output goes to standard error. Doing MLflow's work (SQLAlchemy, HTTP, plotting) here
keeps it off the campaign's interpreter and its GIL: the learning loop pays only for
queuing a few small records per iteration.

It ignores SIGINT and SIGTERM: a Ctrl-C in the terminal reaches the whole process group,
and the campaign then still needs its writer to record ``stop_reason=stopped``. It exits
when the campaign's process closes the pipe - normally at exit, or when that process was
killed, in which case the runs it still had open are ended as ``KILLED``.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import sys
import threading
from typing import IO, Any

from rose_plugin_mlflow.jobs import Flush, Log, Start, Stop, http_retry_settings, now_ms
from rose_plugin_mlflow.run_writer import RunWriter
from rose_plugin_mlflow.wire import read_frame, write_frame

__all__ = ["main"]

#: most frames taken in one go before writing what they hold
_MAX_FRAMES = 64


class _CampaignGone(OSError):
    """The campaign's end of the answer pipe is closed."""


class _Relay(logging.Handler):
    """Send this package's log records to the campaign's process, which logs them there."""

    def __init__(self, server: _Server) -> None:
        super().__init__()
        self.server = server

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = self.format(record)  # the message, and the traceback when there is one
            self.server.send(("log", record.levelno, record.name, message))
        except _CampaignGone:  # the campaign's process is gone (ending its runs): standard error instead
            if logging.lastResort is not None:
                logging.lastResort.handle(record)
        except Exception:  # noqa: BLE001 - logging must never break the writer
            self.handleError(record)


class _Server:
    """Reads job batches, runs them with one RunWriter per campaign, answers."""

    def __init__(self, inbox: IO[bytes], outbox: IO[bytes]) -> None:
        self.inbox = inbox
        self.outbox = outbox
        self.writers: dict[int, RunWriter] = {}
        self.campaign_gone = False
        self._sending = threading.Lock()

    def send(self, message: tuple[Any, ...]) -> None:
        """Answer the campaign; once its process is gone, answers are dropped (never raised).

        A campaign killed while its run is being created must still get that run ended as
        ``KILLED``: an answer that cannot be delivered must not abort the job in progress.
        """
        with self._sending:
            if self.campaign_gone:
                raise _CampaignGone
            try:
                write_frame(self.outbox, message)
            except (OSError, ValueError):
                self.campaign_gone = True
                raise _CampaignGone from None

    def serve(self) -> None:
        while True:
            try:
                batches = [read_frame(self.inbox)]
                while len(batches) < _MAX_FRAMES and self.more_waiting():
                    batches.append(read_frame(self.inbox))
            except EOFError:
                self.abandon_open_campaigns()
                return
            self.handle([item for batch in batches for item in batch])

    def more_waiting(self) -> bool:
        """Is another frame already in the pipe? (Never on Windows, where pipes cannot be polled.)"""
        try:
            return bool(select.select([self.inbox], [], [], 0)[0])
        except (OSError, ValueError):
            return False

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
                self.start(session, job)
            elif isinstance(job, Stop):
                writer = self.writers.pop(session, None)
                if writer is not None:
                    writer.stop(job)
                self.answer(("done", session, job.token))
                self.answer(("stopped", session))  # last: the tracker forgets the session
            elif isinstance(job, Flush):
                self.answer(("done", session, job.token))
        self.write(pending)

    def answer(self, message: tuple[Any, ...]) -> None:
        """``send``, ignoring a campaign that is gone (its runs are ended at end of input)."""
        try:
            self.send(message)
        except _CampaignGone:
            pass

    def start(self, session: int, job: Start) -> None:
        os.environ.clear()
        os.environ.update(job.environ)
        for name, value in http_retry_settings(job.retry_budget).items():
            os.environ.setdefault(name, value)  # the user's own MLFLOW_HTTP_REQUEST_* settings win
        try:
            os.chdir(job.cwd)
        except OSError:
            pass  # the directory is gone; absolute store paths still work
        logging.getLogger("rose_plugin_mlflow").setLevel(job.log_level)

        def report(message: tuple[Any, ...]) -> None:
            self.answer((message[0], session, *message[1:]))

        writer = RunWriter(report)
        self.writers[session] = writer
        writer.start(job)

    def write(self, pending: dict[int, dict[Any, Log]]) -> None:
        for session, runs in pending.items():
            writer = self.writers.get(session)
            if writer is not None:
                writer.write(runs)

    def abandon_open_campaigns(self) -> None:
        now = now_ms()
        for writer in self.writers.values():
            writer.abandon(now)
        self.writers.clear()


def _yield_the_cpu() -> None:
    """Run at the lowest CPU priority: the campaign and its tasks go first.

    ``nice 19`` rather than ``SCHED_IDLE``: on a node whose cores the campaign's tasks keep
    busy for hours, an idle-class writer could be starved until its queue overflows, while a
    niced one still gets the small share it needs (about 0.4 ms per iteration).
    """
    try:
        os.nice(19)
    except (AttributeError, OSError):  # no os.nice on Windows
        pass


def main() -> None:
    """Serve the tracker on the pipes it gave as standard input and output."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _yield_the_cpu()
    # keep the pipes for the protocol; anything printed (MLflow, alembic) goes to stderr
    inbox = os.fdopen(os.dup(0), "rb", buffering=0)
    outbox = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    server = _Server(inbox, outbox)
    relay = _Relay(server)
    package_logger = logging.getLogger("rose_plugin_mlflow")
    package_logger.addHandler(relay)
    package_logger.propagate = False
    try:
        server.answer(("ready", os.getpid()))
        server.serve()
    finally:
        package_logger.removeHandler(relay)


if __name__ == "__main__":
    main()
