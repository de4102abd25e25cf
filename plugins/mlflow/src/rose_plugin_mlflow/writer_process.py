"""The MLflow writer process (``python -I``, started by ``writer_link``): jobs in, answers out.

Every MLflow call of the tracker is made here, by one :class:`RunWriter` per campaign; a failure is
one warning, never raised. After three failures in a row, a failed start, or once failing calls took
``Start.retry_budget``, the campaign's tracking is off and the campaign goes on. The process ignores
SIGINT and SIGTERM (Ctrl-C reaches the whole process group; the campaign still needs it to record
``stop_reason=stopped``) and exits when the campaign closes the pipe; a campaign that did not stop
first (killed) gets its runs ended from its journal (:meth:`RunWriter.abandon`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from multiprocessing.connection import Connection
from typing import Any

from rose_plugin_mlflow.jobs import PARENT, Log, Start, Stop, http_retry_settings, mlflow_metrics, now_ms, view_hint

__all__ = ["RunWriter", "main"]

logger = logging.getLogger("rose_plugin_mlflow")

MAX_FAILURES = 3  # consecutive failed MLflow calls after which a campaign's tracking is turned off
_clients: dict[str, Any] = {}  # MLflow clients by tracking URI, shared by the campaigns this process writes


@contextlib.contextmanager
def _store_lock(tracking_uri: str) -> Iterator[None]:
    """Hold ``<store>.lock`` while a sqlite store is opened (MLflow creates or upgrades its tables then):
    campaigns started together on a new shared store would otherwise all fail. Not on Windows."""
    path = tracking_uri[len("sqlite:///"):] if tracking_uri.startswith("sqlite:///") and os.name == "posix" else ""
    if not path or path.startswith(":memory:"):
        yield
        return
    import fcntl

    os.makedirs(os.path.dirname(os.path.abspath(path)) or ".", exist_ok=True)
    with open(os.path.abspath(path) + ".lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file is closed
        yield


def _label(key: Any) -> str:
    return "campaign" if key == PARENT else f"learner {key}"


class RunWriter:
    """The MLflow side of one campaign (``job`` opened it); ``report`` tells the tracker
    ``("started", experiment_id, run_name)``, ``("run", key, run_id)`` and ``("disabled",)``."""

    def __init__(self, job: Start, report: Callable[[tuple[Any, ...]], Any]) -> None:
        self.job, self._report = job, report
        self.disabled = False
        self.failures = 0
        self.failing_seconds = 0.0  # time spent in MLflow calls that failed
        self.experiment_id: str | None = None
        self.run_ids: dict[Any, str] = dict(job.lost_runs or {})
        self.client: Any = None
        self._params: dict[str, dict[str, str]] = {}  # run id -> the parameters it has
        self._skipped: set[Any] = set()  # learners whose nested run could not be created
        self._started_ms: dict[Any, int] = {}

    def start(self) -> None:
        """Create (or restore) the experiment and the campaign's run, log its parameters."""
        self._guard("starting the MLflow run", self._start, fatal=True)

    def write(self, pending: Mapping[Any, Log]) -> None:
        """Write the merged logs of each run (nested runs are created on first use)."""
        for key, log in pending.items():
            run_id = None if self.disabled else self._run_id(key, log.name, log.start_ms)
            if run_id is not None:
                self._guard(f"logging to the {_label(key)} run", self._log_batch, run_id, log.metrics, log.params, log.tags)

    def stop(self, job: Stop) -> None:
        """Tag the runs, attach the final states and the learning curve, end every run (the campaign's last);
        the runs of a writer that died first get the metrics the journal holds and the store lacks.

        The campaign's journal is complete by now (its stop record is written before trackers hear
        of the stop), so the learning curve is the one ``rose show`` draws (:func:`rose.plotting.learning_curve`).
        """
        lost = self.job.lost_runs is not None
        journal = self._journal(full=lost, joined=job.joined) if lost or self.job.log_artifacts else None
        if lost:
            self._replay_journal(journal)
        for key, end in sorted(job.runs.items(), key=lambda item: item[0] == PARENT):
            run_id = None if self.disabled or self.client is None else self._run_id(key, end.name, end.start_ms)
            if run_id is not None:
                self._end(key, run_id, end.status, end.tags, end.end_ms, end.final_state, journal, plot=True)

    def abandon(self) -> None:
        """The campaign's process went away without stopping: end its runs as its journal says.

        A campaign whose journal records its stop ends ``FINISHED`` (``FAILED`` after an error)
        with that ``stop_reason``; else ``KILLED`` with ``stop_reason=killed``. Either way the
        runs get the metrics the journal holds and the store lacks. Also after MLflow failures
        turned tracking off: a run that exists is never left ``RUNNING``.
        """
        journal = self._journal()
        reason = {"unfinished": "killed"}.get(journal.status, journal.status) if journal is not None else "killed"
        status = "KILLED" if reason in ("killed", "interrupted") else "FAILED" if reason == "error" else "FINISHED"
        if self.client is None:
            return
        self._replay_journal(journal)
        for key, run_id in list(self.run_ids.items()):
            self.disabled = False  # each step gets one more try after failures
            self._end(key, run_id, status, {"stop_reason": reason}, now_ms())

    def _journal(self, *, full: bool = True, joined: list[str] | None = None) -> Any:
        """The campaign's journal read back (``rose.runs.load_run``; ``full=False``: what a plot needs), or None;
        with the learners of the ``joined`` directories (learners started on their own that shared the tracker).

        None for a campaign without a directory (a manifest built by hand); a journal that cannot be
        read is a warning when metrics were to be replayed from it, else (only the plot is lost) a debug line.
        """
        if not self.job.run_dir:
            return None
        from rose.runs import load_run

        found = None
        for run_dir in [self.job.run_dir, *(joined or ())]:
            try:
                run = load_run(run_dir, full=full)
            except Exception as exc:  # noqa: BLE001 - a damaged or missing journal: the runs still end
                (logger.warning if full else logger.debug)(
                    "MLflow tracker: cannot read the journal of %s (%s)%s", run_dir, exc,
                    "; its runs end without replay" if full else "")
                continue
            if found is None:
                found = run
            else:
                for learner_id, history in run.learners.items():
                    found.learners.setdefault(learner_id, history)
        return found

    def _replay_journal(self, journal: Any) -> None:
        """Give each learner's run the journal's metrics it lacks (one more try for each after failures)."""
        for learner_id, history in journal.learners.items() if journal is not None else ():
            self.disabled = False
            self._guard(f"replaying the journal of learner {learner_id}", self._replay, learner_id, history.iterations)

    def _end(self, key: Any, run_id: str, status: str, tags: dict[str, str], end_ms: int,
             final_state: dict[str, Any] | None = None, journal: Any = None, *, plot: bool = False) -> None:
        """Tag one run, attach its files (the manifest and, if ``plot``, the learning curve to the campaign's), end it."""
        self._guard(f"tagging the {_label(key)} run", self._log_batch, run_id, {}, {}, tags)
        if self.job.log_artifacts and key == PARENT:
            self._guard("logging manifest.json", self.client.log_dict, run_id, self.job.manifest, "manifest.json")
            if plot:
                self._plot(run_id, journal)
        if self.job.log_artifacts and final_state is not None:
            self._guard(f"logging final_state.json of the {_label(key)} run", self.client.log_dict, run_id, final_state,
                        "final_state.json")
        self._guard(f"ending the {_label(key)} run", self.client.set_terminated, run_id, status,
                    max(end_ms, self._started_ms.get(key, 0)))

    def _replay(self, learner_id: Any, iterations: list[dict[str, Any]]) -> None:
        """Log the metrics of the journal's iterations that the run lacks, and its final iteration."""
        from rose.state import IterationState
        from rose.tracking import state_metrics

        key = PARENT if learner_id is None else learner_id
        run_id = self._run_id(key) if iterations or key == PARENT else None
        if run_id is None:
            return
        stored: dict[str, set[int]] = {}
        missing: dict[tuple[str, int], tuple[float, int]] = {}
        ms = now_ms()
        for data in iterations:
            state = IterationState.from_dict(data)
            for name, value in mlflow_metrics(state_metrics(state)).items():
                if name not in stored:
                    stored[name] = {m.step for m in self.client.get_metric_history(run_id, name)}
                if state.iteration not in stored[name]:
                    missing[(name, state.iteration)] = (value, ms)
        self._log_batch(run_id, missing, {}, {"final_iteration": str(iterations[-1]["iteration"])} if iterations else {})
        if missing:
            logger.info("MLflow: %d metric value(s) of the %s run replayed from the journal", len(missing), _label(key))

    # failures ------------------------------------------------------------------------------
    def _guard(self, what: str, fn: Callable[..., Any], *args: Any, fatal: bool = False) -> None:
        if self.disabled:
            return
        began = time.monotonic()
        try:
            fn(*args)
        except Exception as exc:  # noqa: BLE001 - any MLflow failure is reported, never raised into the campaign
            self.failing_seconds += time.monotonic() - began
            self._failed(what, exc, fatal=fatal)
            return
        self.failures = 0

    def _failed(self, what: str, exc: BaseException, *, fatal: bool) -> None:
        self.failures += 1
        if fatal or self.failures >= MAX_FAILURES or self.failing_seconds >= self.job.retry_budget:
            self.disabled = True
            self._report(("disabled",))
            outcome = "MLflow tracking is off for the rest of this campaign; the campaign goes on"
        else:
            outcome = "that data is not in MLflow; the campaign goes on"
        logger.warning(
            "MLflow tracker (experiment %r, tracking URI %s): %s failed: %s. %s. Check that the tracking "
            "server is up and the URI is right (tracking_uri= or MLFLOW_TRACKING_URI).", self.job.experiment_name,
            self.job.tracking_uri or "(default)", what, " ".join(f"{type(exc).__name__}: {exc}".split())[:600], outcome,
        )
        logger.debug("MLflow failure details", exc_info=exc)

    # MLflow calls --------------------------------------------------------------------------
    def _start(self) -> None:
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient

        job = self.job
        with _store_lock(job.tracking_uri):  # one client per store for the writer's life: opening one checks its schema
            client = _clients.get(job.tracking_uri) or MlflowClient(tracking_uri=job.tracking_uri)
            experiment = client.get_experiment_by_name(job.experiment_name)  # creates or upgrades the tables
            _clients[job.tracking_uri] = self.client = client
        if experiment is None:
            try:
                self.experiment_id = client.create_experiment(job.experiment_name, artifact_location=job.artifact_location)
            except MlflowException:
                experiment = client.get_experiment_by_name(job.experiment_name)  # created meanwhile
                if experiment is None:
                    raise
        if experiment is not None:
            self.experiment_id = experiment.experiment_id
            if experiment.lifecycle_stage == "deleted":
                logger.info("MLflow experiment %r was deleted; restoring it", job.experiment_name)
                client.restore_experiment(self.experiment_id)
        run_name = job.run_name
        if PARENT not in self.run_ids:  # else known: the campaign of a writer that died
            run = client.create_run(str(self.experiment_id), start_time=job.start_ms, tags=job.tags, run_name=job.run_name)
            self.run_ids[PARENT], run_name = run.info.run_id, run.info.run_name or job.run_name
        run_id = self.run_ids[PARENT]
        self._started_ms[PARENT] = job.start_ms
        self._report(("started", self.experiment_id, run_name))
        self._report(("run", PARENT, run_id))
        self._log_batch(run_id, {}, job.params, {})
        logger.info("MLflow run %s (%s) in experiment %r at %s; %s", run_name, run_id, job.experiment_name,
                    job.tracking_uri, view_hint(job.tracking_uri, self.experiment_id, run_id))

    def _run_id(self, key: Any, name: str | None = None, start_ms: int | None = None) -> str | None:
        """The run of ``key``; a learner's nested run is created on first use, with its name and real start."""
        parent = self.run_ids.get(PARENT)
        if key in self.run_ids or parent is None or key in self._skipped:
            return self.run_ids.get(key)
        start = start_ms if start_ms is not None else self._started_ms.get(PARENT, now_ms())
        tags = {"mlflow.parentRunId": parent, "rose.learner_id": str(key)}
        try:
            run = self.client.create_run(str(self.experiment_id), start_time=start, tags=tags, run_name=name or f"learner-{key}")
        except Exception as exc:  # noqa: BLE001 - reported; that learner's data is skipped
            self._skipped.add(key)
            self._failed(f"creating the nested run for learner {key}", exc, fatal=False)
            return None
        self.run_ids[key], self._started_ms[key] = run.info.run_id, start
        self._report(("run", key, run.info.run_id))
        return self.run_ids[key]

    def _log_batch(self, run_id: str, metrics: Mapping[tuple[str, int], tuple[float, int]], params: Mapping[str, str],
                   tags: Mapping[str, str]) -> None:
        """One ``log_batch`` (MLflow's client splits it to its limits); a parameter keeps its first value."""
        from mlflow.entities import Metric, Param, RunTag

        logged = self._params.setdefault(run_id, {})
        new = {key: value for key, value in params.items() if key not in logged}
        if changed := sorted(key for key, value in params.items() if logged.get(key, value) != value):
            logger.debug("MLflow params %s were logged with other values, which they keep", changed)
        logged.update(new)
        if metrics or new or tags:
            self.client.log_batch(run_id, metrics=[Metric(key, value, ms, step) for (key, step), (value, ms) in metrics.items()],
                                  params=[Param(k, v) for k, v in new.items()], tags=[RunTag(k, v) for k, v in tags.items()])

    def _plot(self, run_id: str, journal: Any) -> None:
        """Attach ``learning_curve.png``, drawn from the campaign's journal by the core (what ``rose show``
        draws, with ``metric_units`` on the axis); none for a campaign without a journal or metric values."""
        if journal is None or not any(history.metric_values() for history in journal.learners.values()):
            logger.debug("MLflow: no learning curve for %s (no journal, or no metric value in it)",
                         self.job.run_dir or "a campaign without a directory")
            return
        self._guard("logging learning_curve.png", self._log_plot, run_id, journal)

    def _log_plot(self, run_id: str, journal: Any) -> None:
        from rose.plotting import PLOT_NAME, learning_curve

        with tempfile.TemporaryDirectory(prefix="rose-mlflow-") as tmp:
            self.client.log_artifact(run_id, learning_curve(journal, os.path.join(tmp, PLOT_NAME), units=self.job.metric_units))


class _Server(logging.Handler):
    """Runs the jobs with one RunWriter per campaign and answers; relays this package's log records to the
    campaign's process (once it is gone, to the log file)."""

    def __init__(self, inbox: Connection, outbox: Connection) -> None:
        super().__init__()
        self.inbox, self.outbox = inbox, outbox
        self.writers: dict[int, RunWriter] = {}
        self.campaign_gone = False

    def emit(self, record: logging.LogRecord) -> None:
        if not self.answer(("log", record.levelno, record.name, self.format(record))):
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()

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
        """Run the job batches as they come (all that wait, in one go); when the campaign closes the pipe, end
        the runs it left open."""
        while True:
            items: list[tuple[int, Any, int]] = []
            try:
                items.extend(self.inbox.recv())
                while len(items) < 10_000 and self.inbox.poll(0):
                    items.extend(self.inbox.recv())
            except (EOFError, OSError):  # closed, or cut off in the middle of a message
                self.run(items)
                for writer in self.writers.values():
                    writer.abandon()
                return
            self.run(items)

    def run(self, items: list[tuple[int, Any, int]]) -> None:
        """Run the jobs in order (None: a flush); consecutive logs of a run are merged into one MLflow write."""
        pending: dict[int, dict[Any, Log]] = {}
        for session, job, token in items:
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
                self.open(session, job).start()
            elif isinstance(job, Stop) and (writer := self.writers.pop(session, None)) is not None:
                writer.stop(job)
            if token:
                self.answer(("done", session, token))
        self.write(pending)

    def open(self, session: int, job: Start) -> RunWriter:
        """A RunWriter for the campaign, in the campaign's environment and directory."""
        os.environ.clear()
        os.environ.update(job.environ)
        for name, value in http_retry_settings(job.retry_budget).items():
            os.environ.setdefault(name, value)  # the user's own MLFLOW_HTTP_REQUEST_* settings win
        with contextlib.suppress(OSError):  # a directory that is gone: absolute store paths still work
            os.chdir(job.cwd)
        logging.getLogger("rose_plugin_mlflow").setLevel(job.log_level)
        writer = self.writers[session] = RunWriter(job, lambda message: self.answer((message[0], session, *message[1:])))
        return writer

    def write(self, pending: dict[int, dict[Any, Log]]) -> None:
        """Write the merged logs of each campaign."""
        for session, runs in pending.items():
            if session in self.writers:
                self.writers[session].write(runs)


def main() -> None:
    """Serve the tracker on the two pipes whose descriptors are the last two arguments."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with contextlib.suppress(AttributeError, OSError):  # the lowest CPU priority (not SCHED_IDLE: a busy node
        os.nice(19)  # must not starve it); no os.nice on Windows
    server = _Server(Connection(int(sys.argv[-2]), writable=False), Connection(int(sys.argv[-1]), readable=False))
    package_logger = logging.getLogger("rose_plugin_mlflow")
    package_logger.addHandler(server)
    package_logger.propagate = False
    server.serve()
