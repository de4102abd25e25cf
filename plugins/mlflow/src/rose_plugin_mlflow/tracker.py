"""``MLflowTracker``: a ROSE tracker that records campaigns in MLflow without slowing them.

Parameters at the start, metrics per iteration (``step`` = iteration), ``stop_reason`` and
``final_iteration`` tags, a learning curve and the final state at the stop; one nested run per
learner for parallel learners (the plugin's README lists every key). The campaign's process never
imports MLflow: it sends small records to a writer process (:mod:`rose_plugin_mlflow.writer_link`).
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from attrs import define, evolve, field

from rose.engine import runs_root
from rose.plotting import metric_label  # re-exported: the core's rule, importable from here as before
from rose.state import IterationState, jsonable
from rose.tracking import PipelineManifest, TrackerBase, campaign_params, config_params, masked_manifest, number, state_metrics
from rose_plugin_mlflow.jobs import (
    MAX_PARAM_VALUE,
    MAX_TAG_VALUE,
    PARENT,
    End,
    Log,
    Start,
    Stop,
    clip,
    mlflow_key,
    mlflow_metrics,
    now_ms,
    view_hint,
)
from rose_plugin_mlflow.writer_link import Session, writer_link

__all__ = ["DEFAULT_EXPERIMENT", "MLflowTracker", "metric_label", "mlflow_key"]

logger = logging.getLogger(__name__)
DEFAULT_EXPERIMENT = "ROSE_AL_Experiment"


class _StderrNotice(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to the current ``sys.stderr``, looked up at each record."""

    stream = property(lambda _: sys.stderr, lambda _, value: None)  # type: ignore[assignment]


#: the one-line "view it with ..." notice at the end of every tracked run goes to standard error,
#: whatever the logging configuration (silence it with ``.setLevel(logging.WARNING)``)
notice_logger = logging.getLogger("rose_plugin_mlflow.notice")
if not notice_logger.handlers:
    notice_logger.addHandler(_StderrNotice())
    notice_logger.setLevel(logging.INFO)
    notice_logger.propagate = False

def _option(test: Callable[[Any], bool], what: str, error: type[Exception] = ValueError) -> Any:
    """An attrs validator: ``MLflowTracker: <option> must be <what>, got <value>``."""

    def check(_: Any, attribute: Any, value: Any) -> None:
        if not test(value):
            raise error(f"MLflowTracker: {attribute.name} must be {what}, got {value!r}")

    return check


def _tags(tags: Mapping[str, Any] | None) -> dict[str, str]:
    return {mlflow_key(k): clip(str(v), MAX_TAG_VALUE) for k, v in (tags or {}).items()}


def _seconds(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and value > 0


@define
class _Run:
    """What the tracker keeps of one run (the campaign's, or a learner's) until the campaign stops."""

    last: IterationState
    ms: int
    name: str | None = None
    reason: str | None = None  # a learner's own stop reason, when it stopped on its own


@define(eq=False, slots=False)
class MLflowTracker(TrackerBase):
    """Record a ROSE campaign in MLflow: ``learner.add_tracker(MLflowTracker("My_Experiment"))``.

    ``experiment_name`` is created if missing; ``run_name`` defaults to the campaign directory's
    name. The store is ``tracking_uri``, else ``MLFLOW_TRACKING_URI``, else a URI the script set
    with ``mlflow.set_tracking_uri``, else ``sqlite:///<runs folder>/mlflow.db`` (artifacts in
    ``<runs folder>/mlartifacts``); ``artifact_location`` is where a new experiment keeps artifacts.
    ``log_artifacts=False`` skips the manifest, plot and final-state files; ``tags`` go on the
    campaign run. ``queue_size`` bounds the updates waiting to be sent, ``batch_interval`` (s)
    groups them into one message per interval, ``flush_timeout`` (s, None: no limit) bounds how
    long ``on_stop`` waits for them to be written. ``retry_budget`` (s) bounds each MLflow call,
    retries included, and all failing calls together, after which tracking turns off for the
    campaign. ``metric_units`` labels the learning curve's axis (``"eV/atom"``). At the end of every
    run a notice on standard error says how to view it (logger ``rose_plugin_mlflow.notice``).

    One tracker follows one campaign at a time. Added to several learners that run together
    (each with its own ``learner_id``), it keeps one parent run until the last of them stops.
    """

    experiment_name: str = field(default=DEFAULT_EXPERIMENT, validator=_option(
        lambda v: isinstance(v, str) and bool(v.strip()), "a non-empty string"))
    run_name: str | None = field(default=None, validator=_option(lambda v: v is None or isinstance(v, str),
                                                                  "a string or None", TypeError))
    tracking_uri: str | None = field(default=None, validator=_option(
        lambda v: v is None or isinstance(v, str) and bool(v.strip()),
        "a URI such as 'http://127.0.0.1:5000' or 'sqlite:///mlflow.db'"))
    artifact_location: str | None = field(default=None, kw_only=True)
    log_artifacts: bool = field(default=True, kw_only=True)
    tags: dict[str, str] = field(factory=dict, kw_only=True, converter=_tags)
    queue_size: int = field(default=10_000, kw_only=True, validator=_option(
        lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1, "a whole number >= 1"))
    flush_timeout: float | None = field(default=30.0, kw_only=True, validator=_option(
        lambda v: v is None or _seconds(v), "a positive number of seconds or None"))
    batch_interval: float = field(default=0.25, kw_only=True, validator=_option(
        lambda v: _seconds(v) or v == 0 and type(v) in (int, float), "a number of seconds >= 0"))
    retry_budget: float = field(default=30.0, kw_only=True, validator=_option(_seconds, "a positive number of seconds"))
    metric_units: str | None = field(default=None, kw_only=True, validator=_option(
        lambda v: v is None or isinstance(v, str), "a string such as 's' or 'eV'", TypeError))

    def __attrs_pre_init__(self) -> None:
        if importlib.util.find_spec("mlflow") is None:
            raise ImportError("MLflowTracker needs the mlflow package, which is not installed in this environment: "
                              "pip install rose-plugin-mlflow (or pip install mlflow)")

    def __attrs_post_init__(self) -> None:
        self._session: Session | None = None
        self._start: Start | None = None  # the campaign's Start job
        self._starts = 0  # learners of the campaign that started and did not stop yet
        self._warned_unstarted = False

    # what the writer found out -------------------------------------------------------------
    @property
    def run_id(self) -> str | None:
        """The campaign's (parent) MLflow run id, once created."""
        return self._session.run_ids.get(PARENT) if self._session else None

    @property
    def child_run_ids(self) -> dict[Any, str]:
        """Nested run ids by learner id (parallel learners)."""
        return {k: v for k, v in self._session.run_ids.items() if k != PARENT} if self._session else {}

    @property
    def experiment_id(self) -> str | None:
        """The MLflow experiment id, once known."""
        return self._session.experiment_id if self._session else None

    @property
    def resolved_tracking_uri(self) -> str | None:
        """The tracking URI actually used (after ``MLFLOW_TRACKING_URI`` and defaults)."""
        return self._start.tracking_uri if self._start else None

    @property
    def active(self) -> bool:
        """False once an MLflow failure turned tracking off for this campaign."""
        return self._session is not None and not self._session.disabled

    # the tracker protocol ----------------------------------------------------------------------
    def on_start(self, manifest: PipelineManifest) -> None:
        """Create (or join) the campaign's run and send its parameters."""
        self._starts += 1
        if self._starts > 1:  # another learner of the same campaign: its parameters join the parent run
            self._joined = True
            if manifest.run_dir and manifest.run_dir not in (self._start and self._start.run_dir, *self._run_dirs):
                self._run_dirs.append(manifest.run_dir)  # its journal joins the learning curve
            if self._session is not None:
                self._session.send(Log(PARENT, params=_manifest_params(manifest)))
            return
        self._manifest, self._joined = manifest, False
        self._run_dirs: list[str] = []  # the directories of learners that joined
        self._reasons: list[str] = []
        self._runs: dict[Any, _Run] = {}
        self._warned, self._start_ms = False, now_ms()
        self._start = self._start_job(manifest)
        self._session = self._open(self._start, self.batch_interval)

    def on_iteration(self, state: IterationState) -> None:
        """Send this iteration's metrics (and, the first time, the learner's configuration)."""
        session = self._session
        if self._starts == 0 and not self._warned_unstarted:
            self._warned_unstarted = True
            logger.warning("MLflowTracker.on_iteration before on_start: nothing is logged until on_start")
        if self._starts == 0 or session is None or session.disabled:
            return
        # from a tracker thread wait for room when MLflow is behind; the event loop never waits
        job = self._iteration_job(state)
        if not session.send(job, 0.0 if _on_event_loop_thread() else self.flush_timeout) and session.dropped:
            if not self._warned:
                self._warned = True
                logger.warning("MLflowTracker: %d update(s) are waiting for MLflow (queue_size); dropping updates "
                               "until it catches up", self.queue_size)

    def on_stop(self, final_state: IterationState | None, reason: str) -> None:
        """Tag, attach the plot and final state, end the run(s) and wait until all is written.

        If the writer died during the campaign, a new one ends the runs (``KILLED``, ``FAILED`` after
        an error) with every metric of the journal, and says so in the ``rose.writer_lost`` tag.
        """
        if self._starts == 0:
            logger.debug("MLflowTracker.on_stop without a running campaign; ignored")
            return
        self._starts -= 1
        self._reasons.append(reason)
        if final_state is not None:
            key = PARENT if final_state.learner_id is None else final_state.learner_id
            run = self._runs.setdefault(key, _Run(final_state, now_ms()))
            if final_state.learner_id is not None and self._joined:
                run.reason = reason  # one learner of several that each started the tracker: its own reason
        session, start = self._session, self._start
        if self._starts > 0 or session is None or start is None:
            return
        stop = self._stop_job(final_state)
        if not session.request(stop, self.flush_timeout):
            self._warn_late(session)
            return
        session.link.forget(session)
        if session.lost is not None:  # the writer died: a new one replays the journal and ends the runs
            for end in stop.runs.values():
                end.status = "FAILED" if end.status == "FAILED" else "KILLED"
                end.tags["rose.writer_lost"] = f"{session.lost}; metrics replayed from the campaign's journal"
            replay = self._open(evolve(start, params={}, lost_runs=dict(session.run_ids)), 0.0)
            if replay is None:
                return
            if replay.request(stop, self.flush_timeout):
                replay.link.forget(replay)
                session.run_ids.update(replay.run_ids)
                session.experiment_id, session.run_name = replay.experiment_id, replay.run_name
            else:
                self._warn_late(replay)
        if session.dropped:
            logger.warning("MLflowTracker: %d update(s) were dropped because %d were already waiting for MLflow",
                           session.dropped, self.queue_size)
        run_id = session.run_ids.get(PARENT)
        if run_id is not None and (not session.disabled or session.lost):
            notice_logger.info("MLflow run %r (%s): %s", session.run_name or run_id, stop.runs[PARENT].status,
                               view_hint(start.tracking_uri, session.experiment_id, run_id))

    def _open(self, start: Start, batch_interval: float) -> Session | None:
        """A session on this process's writer (started if needed), sent ``start``; None if no writer could start."""
        try:
            session = writer_link(_writer_log(start.tracking_uri, start.run_dir)).open_session(
                batch_interval=batch_interval, queue_size=self.queue_size)
        except OSError as exc:
            logger.warning("MLflow tracker (experiment %r): could not start the MLflow writer process (%s: %s); "
                           "MLflow tracking is off for this campaign; the campaign goes on",
                           self.experiment_name, type(exc).__name__, exc)
            return None
        session.send(start)
        return session

    def _warn_late(self, session: Session) -> None:
        logger.warning(
            "MLflowTracker: MLflow did not finish writing within %s s; the campaign ends without waiting longer: "
            "the writer process %d goes on writing in the background (its log: %s)",
            self.flush_timeout, session.link.process.pid, session.link.log_path,
        )

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything sent so far is written; False on timeout."""
        session = self._session
        return session is None or session.closed or session.request(None, timeout)

    # building jobs -----------------------------------------------------------------------------
    def _start_job(self, manifest: PipelineManifest) -> Start:
        uri, artifact_location = _resolve_store(self.tracking_uri, self.artifact_location, manifest.run_dir)
        tags = {"rose.learner_type": manifest.learner_type, **({"rose.run_dir": manifest.run_dir} if manifest.run_dir else {}),
                **self.tags}
        return Start(
            experiment_name=self.experiment_name, tracking_uri=uri, artifact_location=artifact_location,
            log_artifacts=self.log_artifacts, params=_manifest_params(manifest),
            run_name=self.run_name or (os.path.basename(os.path.normpath(manifest.run_dir)) if manifest.run_dir
                                       else manifest.learner_type),
            tags=_tags(tags),
            manifest=masked_manifest(manifest), start_ms=self._start_ms,  # no env value in clear text, whoever built it
            environ=dict(os.environ), cwd=os.getcwd(), log_level=logging.getLogger("rose_plugin_mlflow").getEffectiveLevel(),
            retry_budget=self.retry_budget, run_dir=manifest.run_dir, metric_units=self.metric_units,
        )

    def _iteration_job(self, state: IterationState) -> Log:
        key = PARENT if state.learner_id is None else state.learner_id
        step, ms = int(state.iteration), now_ms()
        metrics = mlflow_metrics(state_metrics(state))
        name = None if key == PARENT else _child_name(key, state)
        first = key not in self._runs
        run = self._runs[key] = self._runs.get(key) or _Run(state, ms, name)
        tags = {"mlflow.runName": name} if name is not None and run.name != name else {}  # the label came later: rename
        run.last, run.ms, run.name = state, ms, name
        params: dict[str, Any] = {"learner_id": state.learner_id} if first and key != PARENT else {}
        config = config_params(state.current_config, step, self._manifest)
        if first:
            params.update(config)
        for config_key, raw in config.items():
            if config_key.endswith("/args"):  # positional arguments stay a parameter
                continue
            if (found := number(raw, parse_strings=True)) is not None:
                metrics[mlflow_key(config_key)] = found
            else:  # text: a tag of the same name
                tags[mlflow_key(config_key)] = clip(raw if isinstance(raw, str) else _param_value(raw), MAX_TAG_VALUE)
        return Log(key, metrics={(k, step): (v, ms) for k, v in metrics.items()}, tags=tags, name=name,
                   params={mlflow_key(k): _param_value(v) for k, v in params.items()},
                   start_ms=self._start_ms if first else None)

    def _stop_job(self, final_state: IterationState | None) -> Stop:
        reasons, manifest, runs = self._reasons, self._manifest, self._runs
        reason = "error" if "error" in reasons else "stopped" if "stopped" in reasons else reasons[-1]
        ends: dict[Any, End] = {}
        for key, run in runs.items():
            if key != PARENT:
                own = run.reason or ("criterion_met" if run.last.should_stop else "max_iter_reached"
                                     if manifest.max_iter and run.last.iteration + 1 >= manifest.max_iter else reason)
                ends[key] = End(_status(own), {"stop_reason": own, "final_iteration": str(run.last.iteration)},
                                {"learner_id": key, "reason": own, "final_state": run.last.to_dict()}, run.ms,
                                run.name, self._start_ms)
        final_iteration = final_state.iteration if final_state is not None and final_state.learner_id is None else max(
            (run.last.iteration for run in runs.values()), default=None)
        final = final_state if final_state is not None else runs[PARENT].last if PARENT in runs else None
        summary: dict[str, Any] = {"reason": reason, "final_state": final.to_dict() if final is not None else None}
        if ends:
            summary["learners"] = {str(key): runs[key].last.to_dict() for key in ends}
        ends[PARENT] = End(_status(reason), {"stop_reason": reason, "final_iteration": "none" if final_iteration is None else
                           str(final_iteration)},
                           summary, now_ms())
        return Stop(ends, list(self._run_dirs))


def _status(reason: str) -> str:
    return "FAILED" if reason == "error" else "FINISHED"


def _param_value(value: Any) -> str:
    """The text MLflow stores for a parameter value (at most 6000 characters)."""
    if isinstance(value, str):
        text = value
    elif value is None or isinstance(value, (bool, int, float)):
        text = repr(value) if isinstance(value, float) else str(value)
    elif not isinstance(value, (Mapping, list, tuple)) and number(value) is not None:  # numpy scalars: 3, not 3.0
        text = str(value.item() if callable(getattr(value, "item", None)) else value)
    else:
        text = json.dumps(jsonable(value), sort_keys=True, default=repr)
    return clip(text, MAX_PARAM_VALUE)


def _on_event_loop_thread() -> bool:
    try:
        return asyncio.get_running_loop() is not None
    except RuntimeError:
        return False


def _sqlite_folder(uri: str) -> str | None:
    """The folder of a ``sqlite:///path/mlflow.db`` store on disk (else None)."""
    path = uri[len("sqlite:///"):] if uri.startswith("sqlite:///") else ""
    return os.path.dirname(os.path.abspath(path)) if path and not path.startswith(":memory:") else None


def _resolve_store(requested: str | None, artifact_location: str | None, run_dir: str | None) -> tuple[str, str | None]:
    """The tracking URI and, for a store ROSE chose, where artifacts go (MLflow is not imported).

    ``tracking_uri=``, else ``MLFLOW_TRACKING_URI``, else the script's ``mlflow.set_tracking_uri``,
    else ``sqlite:///<runs folder>/mlflow.db`` (the folder holding the campaign's directory).
    """
    mlflow = sys.modules.get("mlflow")
    uri = requested or os.environ.get("MLFLOW_TRACKING_URI") or (
        str(mlflow.get_tracking_uri()) if mlflow is not None and getattr(mlflow, "is_tracking_uri_set", lambda: False)()
        else None)
    if uri is None:
        directory = runs_root() if run_dir is None else os.path.dirname(os.path.abspath(run_dir))
        os.makedirs(directory, exist_ok=True)
        uri = "sqlite:///" + os.path.join(directory, "mlflow.db")
    folder = _sqlite_folder(uri)
    return uri, artifact_location or (Path(folder, "mlartifacts").absolute().as_uri() if folder else None)


def _writer_log(tracking_uri: str, run_dir: str | None) -> str:
    """The writer process's log file: beside a sqlite store, else in the runs folder."""
    folder = _sqlite_folder(tracking_uri) or (os.path.dirname(os.path.abspath(run_dir)) if run_dir else runs_root())
    return os.path.join(folder, "mlflow-writer.log")


def _manifest_params(manifest: PipelineManifest) -> dict[str, str]:
    """The campaign's parameters (the core's :func:`~rose.tracking.campaign_params`) as MLflow keys and values."""
    return {mlflow_key(k): _param_value(v) for k, v in campaign_params(manifest).items()}


def _child_name(key: Any, state: IterationState) -> str:
    """A learner's run name: its ``learner_label`` state value, else its id (``learner-3`` for a number)."""
    label = state.state.get("learner_label")
    if isinstance(label, str) and label.strip():
        return clip(label.strip(), MAX_TAG_VALUE)
    return str(key) if isinstance(key, str) and key.strip() else f"learner-{key}"
