"""``MLflowTracker``: a ROSE tracker that records campaigns in MLflow without slowing them.

Parameters at the start, metrics per iteration (``step`` = iteration), ``stop_reason`` and
``final_iteration`` tags, a learning curve and the final state at the stop; one nested run per
learner for parallel learners (the plugin's README lists every key). The campaign's process never
imports MLflow: it sends small records to a writer process (:mod:`rose_plugin_mlflow.writer_link`).
"""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import json
import logging
import os
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from attrs import evolve, fields

from rose.config import LearnerConfig, TaskConfig
from rose.engine import runs_root
from rose.state import IterationState, jsonable
from rose.tracking import PipelineManifest, TrackerBase, masked_env
from rose_plugin_mlflow.jobs import (
    MAX_PARAM_VALUE,
    MAX_TAG_VALUE,
    PARENT,
    Child,
    Flush,
    Log,
    Recover,
    Start,
    Stop,
    clip,
    mlflow_key,
    now_ms,
    number,
    state_metrics,
    view_hint,
)
from rose_plugin_mlflow.run_writer import plot_learning_curve
from rose_plugin_mlflow.writer_link import Session, writer_link

__all__ = ["DEFAULT_EXPERIMENT", "MLflowTracker", "metric_label", "mlflow_key", "plot_learning_curve"]

logger = logging.getLogger(__name__)
DEFAULT_EXPERIMENT = "ROSE_AL_Experiment"
_tokens = itertools.count(1)


class _StderrNotice(logging.Handler):
    """Writes a record's message as one line to the current ``sys.stderr`` (looked up at each record)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:  # noqa: BLE001 - a closed stderr must not break the campaign
            self.handleError(record)


#: the one-line "view it with ..." notice at the end of every tracked run goes to standard error,
#: whatever the logging configuration (silence it with ``.setLevel(logging.WARNING)``)
notice_logger = logging.getLogger("rose_plugin_mlflow.notice")
if not notice_logger.handlers:
    notice_logger.addHandler(_StderrNotice())
    notice_logger.setLevel(logging.INFO)
    notice_logger.propagate = False

#: readable names (and units) of ROSE's built-in metrics, for plot axes
_METRIC_LABELS = {
    "mean_squared_error_mse": "MSE", "root_mean_squared_error_rmse": "RMSE", "mean_absolute_error_mae": "MAE",
    "r2_score": "R²", "model_accuracy": "accuracy (fraction correct)", "training_time": "training time (s)",
    "time_to_convergence": "time to convergence (s)", "number_of_iterations": "iterations",
    "predictive_entropy": "predictive entropy (nats)", "mutual_information": "mutual information (nats)",
    "negative_log_likelihood": "negative log-likelihood (nats)", "f1_score": "F1 score",
}
_UNIT_SUFFIXES = {"_s": "s", "_seconds": "s", "_ms": "ms", "_bytes": "bytes", "_mb": "MB", "_percent": "%", "_pct": "%"}


def metric_label(name: str, units: str | None = None) -> str:
    """A readable axis label for a metric: ``RMSE`` for ``root_mean_squared_error_rmse``, units where known.

    ``units`` (the tracker's ``metric_units``) wins; else units come from ROSE's built-in metrics
    or a suffix such as ``_s`` or ``_seconds``; other names are shown with spaces for underscores.
    """
    known = _METRIC_LABELS.get(name)
    if known is not None:
        return f"{known.split(' (')[0]} ({units})" if units else known
    text, found_unit = name, None
    for suffix, unit in _UNIT_SUFFIXES.items():
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            text, found_unit = name[: -len(suffix)], unit
            break
    text, shown = text.replace("_", " ").strip() or name, units or found_unit
    return f"{text} ({shown})" if shown else text


def _masked_manifest(manifest: PipelineManifest) -> dict[str, Any]:
    """The manifest as JSON data, with no ``resources["env"]`` value in clear text."""
    document: dict[str, Any] = manifest.to_dict()
    tasks = document.get("tasks")
    for section in [*(tasks.values() if isinstance(tasks, Mapping) else ()), document.get("criterion")]:
        for key in ("resources", "decor_kwargs"):
            if isinstance(section, dict) and isinstance(section.get(key), Mapping):
                section[key] = masked_env(section[key])
    return document


def _param_value(value: Any) -> str:
    """The text MLflow stores for a parameter value (at most 6000 characters)."""
    found = None if isinstance(value, (str, Mapping, list, tuple)) else number(value)
    if isinstance(value, str):
        text = value
    elif value is None or isinstance(value, (bool, int, float)):
        text = repr(value) if isinstance(value, float) else str(value)
    elif found is not None:
        text = str(value.item() if callable(getattr(value, "item", None)) else found)
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

    def __init__(
        self,
        experiment_name: str = DEFAULT_EXPERIMENT,
        run_name: str | None = None,
        tracking_uri: str | None = None,
        *,
        artifact_location: str | None = None,
        log_artifacts: bool = True,
        tags: Mapping[str, Any] | None = None,
        queue_size: int = 10_000,
        flush_timeout: float | None = 30.0,
        batch_interval: float = 0.25,
        retry_budget: float = 30.0,
        metric_units: str | None = None,
    ) -> None:
        if importlib.util.find_spec("mlflow") is None:
            raise ImportError("MLflowTracker needs the mlflow package, which is not installed in this environment: "
                              "pip install rose-plugin-mlflow (or pip install mlflow)")

        def seconds(value: Any, minimum: float) -> bool:
            return not isinstance(value, bool) and isinstance(value, (int, float)) and value >= minimum

        problems = [
            (not isinstance(experiment_name, str) or not experiment_name.strip(), "experiment_name must be a non-empty string",
             experiment_name),
            (run_name is not None and not isinstance(run_name, str), "run_name must be a string or None", run_name),
            (tracking_uri is not None and (not isinstance(tracking_uri, str) or not tracking_uri.strip()),
             "tracking_uri must be a URI such as 'http://127.0.0.1:5000' or 'sqlite:///mlflow.db'", tracking_uri),
            (not isinstance(queue_size, int) or isinstance(queue_size, bool) or queue_size < 1,
             "queue_size must be a whole number >= 1", queue_size),
            (not seconds(batch_interval, 0), "batch_interval must be a number of seconds >= 0", batch_interval),
            (not seconds(retry_budget, 0) or not retry_budget, "retry_budget must be a positive number of seconds",
             retry_budget),
            (metric_units is not None and not isinstance(metric_units, str),
             "metric_units must be a string such as 's' or 'eV'", metric_units),
            (flush_timeout is not None and (not seconds(flush_timeout, 0) or not flush_timeout),
             "flush_timeout must be a positive number of seconds or None", flush_timeout),
        ]
        for bad, what, value in problems:
            if bad:
                raise (TypeError if what.startswith(("run_name", "metric_units")) else ValueError)(
                    f"MLflowTracker: {what}, got {value!r}")
        self.experiment_name = experiment_name
        self.run_name = run_name
        self.tracking_uri = tracking_uri
        self.artifact_location = artifact_location
        self.log_artifacts = log_artifacts
        self.tags = {mlflow_key(k): clip(str(v), MAX_TAG_VALUE) for k, v in (tags or {}).items()}
        self.queue_size = queue_size
        self.flush_timeout = flush_timeout
        self.batch_interval = float(batch_interval)
        self.retry_budget = float(retry_budget)
        self.metric_units = metric_units
        self._lock = threading.RLock()
        self._session: Session | None = None
        self._tracking_uri_used: str | None = None
        self._wire_keys: dict[Any, Any] = {}
        self._kinds: tuple[PipelineManifest, dict[str, str]] | None = None
        self._reset()

    def _reset(self) -> None:
        self._starts = 0
        self._joined = False
        self._manifest: PipelineManifest | None = None
        self._reasons: list[str] = []
        self._child_reasons: dict[Any, str] = {}
        self._curves: dict[Any, list[tuple[int, float]]] = {}
        self._last: dict[Any, IterationState] = {}
        self._last_ms: dict[Any, int] = {}
        self._names: dict[Any, str] = {}
        self._start_ms = now_ms()
        self._string_tags: dict[Any, dict[str, str]] = {}
        self._seen: set[Any] = set()
        self._warned_unstarted = False
        self._warned_dropping = False

    # what the writer found out -------------------------------------------------------------
    @property
    def run_id(self) -> str | None:
        """The campaign's (parent) MLflow run id, once created."""
        return self._session.run_ids.get(PARENT) if self._session else None

    @property
    def child_run_ids(self) -> dict[Any, str]:
        """Nested run ids by learner id (parallel learners)."""
        if self._session is None:
            return {}
        return {self._wire_keys.get(k, k): v for k, v in self._session.run_ids.items() if k != PARENT}

    @property
    def experiment_id(self) -> str | None:
        """The MLflow experiment id, once known."""
        return self._session.experiment_id if self._session else None

    @property
    def resolved_tracking_uri(self) -> str | None:
        """The tracking URI actually used (after ``MLFLOW_TRACKING_URI`` and defaults)."""
        return self._tracking_uri_used

    @property
    def active(self) -> bool:
        """False once an MLflow failure turned tracking off for this campaign."""
        return self._session is not None and not self._session.disabled

    # the tracker protocol ----------------------------------------------------------------------
    def on_start(self, manifest: PipelineManifest) -> None:
        """Create (or join) the campaign's run and send its parameters."""
        with self._lock:
            params = self._manifest_params(manifest)
            if self._starts == 0:
                self._reset()
                self._manifest = manifest
                self._wire_keys = {}
                self._session = None
                self._starts += 1
                job: Any = self._start_job(manifest, params)
                try:
                    self._session = writer_link(_writer_log(job.tracking_uri, manifest.run_dir)).open_session(
                        batch_interval=self.batch_interval, queue_size=self.queue_size
                    )
                except OSError as exc:
                    logger.warning(
                        "MLflow tracker (experiment %r): could not start the MLflow writer process (%s: %s); "
                        "MLflow tracking is off for this campaign; the campaign goes on",
                        self.experiment_name, type(exc).__name__, exc,
                    )
                    return
            else:  # another learner of the same campaign: its parameters join the parent run
                logger.debug("MLflowTracker: learner %s joins the running campaign", manifest.learner_type)
                self._joined = True
                self._starts += 1
                job = Log(PARENT, params=params)
            session = self._session
        if session is not None:
            session.send(job)

    def on_iteration(self, state: IterationState) -> None:
        """Send this iteration's metrics (and, the first time, the learner's configuration)."""
        with self._lock:
            if self._starts == 0:
                if not self._warned_unstarted:
                    self._warned_unstarted = True
                    logger.warning("MLflowTracker.on_iteration before on_start: nothing is logged until on_start")
                return
            session = self._session
            if session is None or session.disabled:
                return
            key = PARENT if state.learner_id is None else self._wire_key(state.learner_id)
            job = self._iteration_job(key, state)
        # from a tracker thread wait for room when MLflow is behind; the event loop never waits
        if not session.send(job, wait=0.0 if _on_event_loop_thread() else self.flush_timeout):
            if not self._warned_dropping:
                self._warned_dropping = True
                logger.warning("MLflowTracker: %d update(s) are waiting for MLflow (queue_size); dropping updates "
                               "until it catches up", self.queue_size)

    def on_stop(self, final_state: IterationState | None, reason: str) -> None:
        """Tag, attach the plot and final state, end the run(s) and wait until all is written."""
        with self._lock:
            if self._starts == 0:
                logger.debug("MLflowTracker.on_stop without a running campaign; ignored")
                return
            self._starts -= 1
            self._reasons.append(reason)
            if final_state is not None:
                key = PARENT if final_state.learner_id is None else self._wire_key(final_state.learner_id)
                self._last.setdefault(key, final_state)
                if final_state.learner_id is not None and self._joined:
                    # one learner of several that each started the tracker: its own reason
                    self._child_reasons[key] = reason
            if self._starts > 0:
                return
            session = self._session
            if session is None:
                return
            stop = self._stop_job(final_state)
        if not session.request(stop, self.flush_timeout):
            logger.warning(
                "MLflowTracker: MLflow did not finish writing within %s s; the campaign ends without waiting longer: "
                "the writer process %d goes on writing in the background (its log: %s)",
                self.flush_timeout, session.link.process.pid, session.link.log_path,
            )
            return
        session.link.forget(session)
        if session.lost is not None:
            stop = self._recover(session, stop)
        if session.dropped:
            logger.warning("MLflowTracker: %d update(s) were dropped because %d were already waiting for MLflow",
                           session.dropped, self.queue_size)
        run_id = session.run_ids.get(PARENT)
        if run_id is not None and (not session.disabled or session.lost) and self._tracking_uri_used:
            notice_logger.info("MLflow run %r (%s): %s", session.run_name or run_id, stop.status,
                               view_hint(self._tracking_uri_used, session.experiment_id, run_id))

    def _recover(self, lost: Session, stop: Stop) -> Stop:
        """The writer died during the campaign: a new one ends the runs with every metric of the journal."""
        start = self._start_job(self._manifest, {}) if self._manifest is not None else None
        if start is None:
            return stop
        status = "FAILED" if stop.status == "FAILED" else "KILLED"
        tags = {**stop.tags, "rose.writer_lost": f"{lost.lost}; metrics replayed from the campaign's journal"}
        job = Recover(start, dict(lost.run_ids), status, tags, next(_tokens))
        try:
            session = writer_link(_writer_log(start.tracking_uri, start.run_dir)).open_session(
                batch_interval=0.0, queue_size=self.queue_size)
        except OSError as exc:
            logger.warning("MLflowTracker: could not start a writer to end the run(s) (%s); they stay RUNNING", exc)
            return stop
        if session.request(job, self.flush_timeout):
            session.link.forget(session)
            lost.run_ids.update(session.run_ids)
            lost.experiment_id = lost.experiment_id or session.experiment_id
        else:
            logger.warning("MLflowTracker: the new MLflow writer did not end the run(s) within %s s; it goes on in the "
                           "background (its log: %s)", self.flush_timeout, session.link.log_path)
        return evolve(stop, status=status)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything sent so far is written; False on timeout."""
        session = self._session
        if session is None or session.closed:
            return True
        return session.request(Flush(next(_tokens)), timeout)

    # building jobs -----------------------------------------------------------------------------
    def _wire_key(self, learner_id: Any) -> Any:
        """The learner id as sent to the writer process (ints and strings as they are)."""
        key = learner_id if isinstance(learner_id, (int, str)) else str(learner_id)
        self._wire_keys.setdefault(key, learner_id)
        return key

    def _start_job(self, manifest: PipelineManifest, params: dict[str, str]) -> Start:
        uri, artifact_location = _resolve_store(self.tracking_uri, self.artifact_location, manifest.run_dir)
        self._tracking_uri_used = uri
        tags = {
            "rose.learner_type": manifest.learner_type,
            **({"rose.run_dir": manifest.run_dir} if manifest.run_dir else {}),
            **self.tags,
        }
        run_name = self.run_name or (os.path.basename(os.path.normpath(manifest.run_dir))
                                     if manifest.run_dir else manifest.learner_type)
        return Start(
            experiment_name=self.experiment_name, tracking_uri=uri, artifact_location=artifact_location,
            log_artifacts=self.log_artifacts, run_name=run_name, params=params,
            tags={mlflow_key(k): clip(str(v), MAX_TAG_VALUE) for k, v in tags.items()},
            manifest_json=json.dumps(_masked_manifest(manifest), indent=2, sort_keys=True, default=repr),
            start_ms=self._start_ms, environ=dict(os.environ), cwd=os.getcwd(),
            log_level=logging.getLogger("rose_plugin_mlflow").getEffectiveLevel(),
            retry_budget=self.retry_budget, run_dir=manifest.run_dir,
        )

    def _manifest_params(self, manifest: PipelineManifest) -> dict[str, str]:
        raw: dict[str, Any] = {"learner_type": manifest.learner_type}
        if manifest.parallel_count is not None:
            raw["parallel_count"] = manifest.parallel_count
        if manifest.max_iter is not None:
            raw["max_iter"] = manifest.max_iter
        crit = manifest.criterion
        if crit is not None:
            raw["criterion/metric_name"] = crit.metric_name
            raw["criterion/threshold"] = crit.threshold
            raw["criterion/operator"] = crit.operator
            raw["criterion/function"] = f"{crit.func_module}.{crit.func_name}".lstrip(".")
            raw["criterion/as_executable"] = crit.as_executable
            for key, value in crit.log_params.items():
                raw[f"criterion/{key}"] = value
        for name, task in manifest.tasks.items():
            raw[f"task/{name}/as_executable"] = task.as_executable
            raw[f"task/{name}/function"] = f"{task.func_module}.{task.func_name}".lstrip(".")
            if task.kind and task.kind != name:
                raw[f"task/{name}/kind"] = task.kind
            for key, value in masked_env(task.resources).items():
                raw[f"task/{name}/resources/{key}"] = value
            for key, value in task.log_params.items():
                raw[f"task/{name}/{key}"] = value
        configs = list(manifest.learner_configs or ())
        for index, config in enumerate(configs):
            prefix = "config" if len(configs) == 1 else f"learner_{index}/config"
            for task_name, (args, kwargs) in self._task_configs(config, 0, manifest).items():
                raw.update(_config_params(f"{prefix}/{task_name}", args, kwargs))
        for key, value in (manifest.extra or {}).items():
            raw[f"extra/{key}"] = value
        return {mlflow_key(k): _param_value(v) for k, v in raw.items()}

    def _task_configs(
        self, config: Any, iteration: int, manifest: PipelineManifest | None = None
    ) -> dict[str, tuple[tuple[Any, ...], dict[str, Any]]]:
        """``{task: (args, kwargs)}`` of a LearnerConfig (or a manifest's ``to_dict()`` of one) at ``iteration``,
        each resolved by the core's one rule (``LearnerConfig.resolve``)."""
        if isinstance(config, Mapping):
            config = _learner_config(config)
        if not isinstance(config, LearnerConfig):
            return {}
        manifest = manifest or self._manifest
        kinds = {f.name: f.name for f in fields(LearnerConfig) if f.name != "tasks" and getattr(config, f.name) is not None}
        kinds.update({name: name for name in config.tasks})  # no registered tasks known: every configured one
        if manifest is not None and manifest.tasks:
            if self._kinds is None or self._kinds[0] is not manifest:
                named = {name: task.kind or name for name, task in manifest.tasks.items()}
                self._kinds = (manifest, {**named, **({"criterion": "criterion"} if manifest.criterion else {})})
            kinds = self._kinds[1]
        out: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {}
        for name, kind in kinds.items():
            try:
                found = config.resolve(name, iteration, kind)
            except Exception as exc:  # noqa: BLE001 - a user schedule failing must not stop tracking
                logger.debug("MLflowTracker: could not resolve the %r configuration at iteration %d: %s", name, iteration, exc)
                continue
            if found is not None:
                out[name] = (tuple(found.args or ()), dict(found.kwargs or {}))
        return out

    def _iteration_job(self, key: Any, state: IterationState) -> Log:
        step = int(state.iteration)
        ms = now_ms()
        metrics = state_metrics(state)
        value = number(state.metric_value) if state.metric_value is not None else None
        if value is not None:
            self._curves.setdefault(key, []).append((step, value))
        tags: dict[str, str] = {}
        first = key not in self._seen
        self._seen.add(key)
        params = {"learner_id": _param_value(state.learner_id)} if first and key != PARENT else {}
        sent = self._string_tags.setdefault(key, {})
        for task, (args, kwargs) in self._task_configs(state.current_config, step).items():
            if first:
                params.update({mlflow_key(k): _param_value(v) for k, v in _config_params(f"config/{task}", args, kwargs).items()})
            for name, raw in kwargs.items():
                config_key = mlflow_key(f"config/{task}/{name}")
                found = number(raw, parse_strings=True)
                if found is not None:
                    metrics[config_key] = found
                    continue
                text = clip(raw if isinstance(raw, str) else _param_value(raw), MAX_TAG_VALUE)
                if sent.get(config_key) != text:
                    sent[config_key] = tags[config_key] = text
        self._last[key] = state
        self._last_ms[key] = ms
        run_name = None if key == PARENT else self._child_name(key, state)
        if run_name is not None and not first and self._names.get(key) != run_name:  # the label came later: rename
            tags["mlflow.runName"] = run_name
        if run_name is not None:
            self._names[key] = run_name
        return Log(key, metrics={(k, step): (v, ms) for k, v in metrics.items()}, params=params, tags=tags,
                   name=run_name, start_ms=self._start_ms if first else None)

    @staticmethod
    def _child_name(key: Any, state: IterationState) -> str:
        """A learner's run name: its ``learner_label`` state value, else its id (``learner-3`` for a number)."""
        label = state.state.get("learner_label")
        if isinstance(label, str) and label.strip():
            return clip(label.strip(), MAX_TAG_VALUE)
        learner_id = state.learner_id if state.learner_id is not None else key
        return str(learner_id) if isinstance(learner_id, str) and learner_id.strip() else f"learner-{learner_id}"

    def _stop_job(self, final_state: IterationState | None) -> Stop:
        reasons = self._reasons
        reason = "error" if "error" in reasons else "stopped" if "stopped" in reasons else reasons[-1]
        manifest = self._manifest
        max_iter = manifest.max_iter if manifest is not None else None
        children: dict[Any, Child] = {}
        for key, last in self._last.items():
            if key == PARENT:
                continue
            child_reason = self._child_reasons.get(key) or (
                "criterion_met" if last.should_stop else
                "max_iter_reached" if max_iter and last.iteration + 1 >= max_iter else reason)
            children[key] = Child(
                "FAILED" if child_reason == "error" else "FINISHED",
                {"stop_reason": child_reason, "final_iteration": str(last.iteration)},
                _dump({"learner_id": key, "reason": child_reason, "final_state": last.to_dict()}),
                self._last_ms.get(key, now_ms()), self._names.get(key), self._start_ms)
        final_iteration = final_state.iteration if final_state is not None and final_state.learner_id is None else max(
            (s.iteration for s in self._last.values()), default=None)
        final = final_state if final_state is not None else self._last.get(PARENT)
        document: dict[str, Any] = {"reason": reason, "final_state": final.to_dict() if final is not None else None}
        if children:
            document["learners"] = {str(k): s.to_dict() for k, s in self._last.items() if k != PARENT}
        crit = manifest.criterion if manifest is not None else None
        threshold, metric_name = (crit.threshold, crit.metric_name) if crit is not None else (None, None)
        for state in self._last.values():
            threshold = threshold if threshold is not None else state.metric_threshold
            metric_name = metric_name or state.metric_name
        label = metric_label(metric_name or "metric", self.metric_units)
        curves = {label if key == PARENT else self._names.get(key, f"learner {key}"): points
                  for key, points in self._curves.items()}
        learner_type = manifest.learner_type if manifest is not None else "ROSE"
        return Stop(
            "FAILED" if reason == "error" else "FINISHED",
            {"stop_reason": reason, "final_iteration": "none" if final_iteration is None else str(final_iteration)},
            _dump(document), children, curves, label, threshold,
            f"{learner_type}: {label.split(' (')[0]} per iteration ({reason})", now_ms(), next(_tokens))


def _learner_config(document: Mapping[str, Any]) -> LearnerConfig | None:
    """The LearnerConfig a manifest describes (``LearnerConfig.to_dict()``; a schedule's repr is left out)."""
    names = {f.name for f in fields(LearnerConfig)} - {"tasks"}
    tasks = {str(k): found for k, v in (document.get("tasks") or {}).items() if (found := _task_config(v)) is not None}
    try:
        return LearnerConfig(**{k: _task_config(v) for k, v in document.items() if k in names}, tasks=tasks)
    except (TypeError, ValueError):
        logger.debug("MLflowTracker: the manifest's learner configuration %r is not readable", document)
        return None


def _task_config(value: Any) -> Any:
    """A TaskConfig (or a per-iteration table of them) from its ``to_dict()`` form; None for a schedule's repr."""
    if not isinstance(value, Mapping):
        return None
    if {"args", "kwargs"} & set(value):
        return TaskConfig(args=tuple(value.get("args") or ()), kwargs=dict(value.get("kwargs") or {}))
    return {int(k) if str(k).lstrip("-").isdigit() else k: _task_config(v) for k, v in value.items()}


def _config_params(prefix: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    return {**({f"{prefix}/args": list(args)} if args else {}), **{f"{prefix}/{k}": v for k, v in kwargs.items()}}


def _dump(document: Any) -> str:
    return json.dumps(jsonable(document), indent=2, sort_keys=True, default=repr)
