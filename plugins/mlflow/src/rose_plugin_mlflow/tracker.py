"""``MLflowTracker``: a ROSE tracker that records campaigns in MLflow without slowing them.

What a run holds (read it back with ``mlflow ui`` or ``MlflowClient``):

* parameters (``on_start``): ``learner_type``, ``parallel_count``, ``max_iter``,
  ``criterion/metric_name|threshold|operator|function``, ``task/<task>/as_executable``,
  ``task/<task>/function``, every ``log_params`` entry as ``task/<task>/<key>``, and every
  configuration value as ``config/<task>/<key>`` (``--`` prefixed keys included) - from the
  manifest's learner configurations, or from the first iteration when the manifest has none;
* metrics (``on_iteration``, ``step`` = iteration): the criterion metric, every numeric value of
  the iteration's state (bools as 0/1, numpy scalars included) and every numeric configuration
  value as ``config/<task>/<key>`` (string values become tags of the same name);
* tags (``on_stop``): ``stop_reason`` and ``final_iteration``; the run ends ``FINISHED``, or
  ``FAILED`` when the campaign ended with an error;
* artifacts: ``manifest.json`` (at start), ``learning_curve.png`` (metric against iteration,
  one line per learner, threshold drawn) and ``final_state.json``.

States that carry a ``learner_id`` (parallel learners) go to one nested child run per
learner under the campaign's parent run. Every MLflow call happens in a background thread
fed by a bounded queue and uses ``MlflowClient`` with explicit run ids (never MLflow's global
active run), so several trackers and campaigns coexist in one process. An MLflow failure is
logged as a warning with its cause and the campaign goes on; ``on_stop`` waits until
everything queued has been written.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import math
import numbers
import os
import queue
import re
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

from attrs import define, field

from rose.state import IterationState, jsonable
from rose.tracking import PipelineManifest, TrackerBase

__all__ = ["DEFAULT_EXPERIMENT", "MLflowTracker", "mlflow_key"]

logger = logging.getLogger(__name__)

DEFAULT_EXPERIMENT = "ROSE_AL_Experiment"

#: run key of the campaign's own run (the parent run when learners have ids)
_PARENT = "<campaign>"

# MLflow's limits (mlflow.utils.validation): key length, value lengths, batch sizes.
_MAX_KEY = 250
_MAX_PARAM_VALUE = 6000
_MAX_TAG_VALUE = 8000
_MAX_METRICS_PER_BATCH = 1000
_MAX_PARAMS_TAGS_PER_BATCH = 100
#: consecutive failed MLflow calls after which the tracker stops trying for this campaign
_MAX_FAILURES = 3

# Characters MLflow accepts in keys on every platform (colons are refused on Windows servers).
_BAD_KEY_CHARS = re.compile(r"[^A-Za-z0-9_.\- /]")


def mlflow_key(raw: object) -> str:
    """Turn any key into one MLflow accepts for a param, metric or tag.

    Characters outside letters, digits, ``_ - . / space`` become ``_``; empty, ``.`` and
    ``..`` path segments (which MLflow rejects) are removed or replaced; the result is at
    most 250 characters. ``"config/simulation/--n_labeled"`` is kept as is.
    """
    text = _BAD_KEY_CHARS.sub("_", str(raw))[:_MAX_KEY]
    parts = []
    for part in text.split("/"):
        if part == "":
            continue
        if part in (".", ".."):
            part = part.replace(".", "_")
        parts.append(part)
    return "/".join(parts) or "_"


def _number(value: Any, *, parse_strings: bool = False) -> float | None:
    """A float for numbers (bools as 0/1, numpy scalars, 0-d arrays), else None."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, numbers.Real):
        try:
            return float(value)
        except (TypeError, ValueError, OverflowError):
            return None
    if parse_strings and isinstance(value, str):
        try:
            parsed = float(value.strip())
        except ValueError:
            return None
        return parsed if math.isfinite(parsed) else None
    if getattr(value, "shape", None) == () and callable(getattr(value, "item", None)):  # numpy bool_, 0-d arrays
        try:
            item = value.item()
        except (TypeError, ValueError):
            return None
        if item is value:
            return None
        return _number(item)
    return None


def _param_value(value: Any) -> str:
    """The text MLflow stores for a parameter value (at most 6000 characters)."""
    if isinstance(value, str):
        text = value
    elif value is None or isinstance(value, (bool, int, float)):
        text = repr(value) if isinstance(value, float) else str(value)
    else:
        number = _number(value)
        if number is not None and not isinstance(value, (Mapping, list, tuple)):
            item = value.item() if callable(getattr(value, "item", None)) else number
            text = str(item)
        else:
            text = json.dumps(jsonable(value), sort_keys=True, default=repr)
    return _clip(text, _MAX_PARAM_VALUE)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _now_ms() -> int:
    return int(time.time() * 1000)


def _on_event_loop_thread() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _label(key: Any) -> str:
    return "campaign" if key == _PARENT else f"learner {key}"


# -- jobs for the background writer --------------------------------------------------------


@define
class _Start:
    run_name: str
    run_dir: str | None
    params: dict[str, str]
    tags: dict[str, str]
    manifest_json: str
    start_ms: int


@define
class _Log:
    run: Any
    metrics: dict[tuple[str, int], tuple[float, int]] = field(factory=dict)  # (key, step) -> (value, ms)
    params: dict[str, str] = field(factory=dict)
    tags: dict[str, str] = field(factory=dict)

    def merge(self, other: _Log) -> None:
        self.metrics.update(other.metrics)
        for key, value in other.params.items():
            self.params.setdefault(key, value)
        self.tags.update(other.tags)


@define
class _Child:
    status: str
    tags: dict[str, str]
    final_json: str


@define
class _Stop:
    status: str
    tags: dict[str, str]
    final_json: str
    children: dict[Any, _Child]
    curves: dict[str, list[tuple[int, float]]]
    metric_name: str
    threshold: float | None
    title: str
    end_ms: int
    done: threading.Event = field(factory=threading.Event)


@define
class _Barrier:
    done: threading.Event = field(factory=threading.Event)


# -- the background writer ------------------------------------------------------------------


class _Writer:
    """One campaign's MLflow connection, living in its own daemon thread."""

    def __init__(
        self,
        *,
        experiment_name: str,
        tracking_uri: str | None,
        artifact_location: str | None,
        log_artifacts: bool,
        queue_size: int,
        batch_interval: float,
    ) -> None:
        self.experiment_name = experiment_name
        self.batch_interval = batch_interval
        self.wake = threading.Event()
        self.requested_uri = tracking_uri
        self.artifact_location = artifact_location
        self.log_artifacts = log_artifacts
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
        self.disabled = False
        self.failures = 0
        self.tracking_uri: str | None = None
        self.experiment_id: str | None = None
        self.run_name = ""
        self.run_ids: dict[Any, str] = {}
        self._client: Any = None
        self._params: dict[str, dict[str, str]] = {}
        self._skipped_children: set[Any] = set()
        self.thread = threading.Thread(target=self._loop, name=f"rose-mlflow[{experiment_name}]", daemon=True)
        self.thread.start()

    # the loop ---------------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            jobs = [self.queue.get()]
            while len(jobs) < 512:
                try:
                    jobs.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            finished = False
            pending: dict[Any, _Log] = {}
            for job in jobs:
                if isinstance(job, _Log):
                    if job.run in pending:
                        pending[job.run].merge(job)
                    else:
                        pending[job.run] = job
                    continue
                self._write_logs(pending)
                pending = {}
                if isinstance(job, _Start):
                    self._guard("starting the MLflow run", self._start, job, fatal=True)
                elif isinstance(job, _Stop):
                    try:
                        self._stop(job)
                    finally:
                        job.done.set()
                        finished = True
                elif isinstance(job, _Barrier):
                    job.done.set()
            wrote = bool(pending)
            self._write_logs(pending)
            if finished:
                return
            if wrote and self.batch_interval > 0:
                # let updates accumulate: one MLflow write per interval, not one per iteration
                # (on_stop, flush() or a half-full queue cut the wait short)
                self.wake.wait(self.batch_interval)
                self.wake.clear()

    def _guard(self, what: str, fn: Any, *args: Any, fatal: bool = False) -> bool:
        if self.disabled:
            return False
        try:
            fn(*args)
        except Exception as exc:  # noqa: BLE001 - any MLflow failure is reported, never raised into the campaign
            self._failed(what, exc, fatal=fatal)
            return False
        self.failures = 0
        return True

    def _failed(self, what: str, exc: BaseException, *, fatal: bool) -> None:
        self.failures += 1
        if fatal or self.failures >= _MAX_FAILURES:
            self.disabled = True
            outcome = "MLflow tracking is off for the rest of this campaign; the campaign goes on"
        else:
            outcome = "that data is not in MLflow; the campaign goes on"
        cause = " ".join(f"{type(exc).__name__}: {exc}".split())
        logger.warning(
            "MLflow tracker (experiment %r, tracking URI %s): %s failed: %s. %s. Check that the tracking "
            "server is up and the URI is right (tracking_uri= or MLFLOW_TRACKING_URI).",
            self.experiment_name, self.tracking_uri or self.requested_uri or "(default)", what,
            _clip(cause, 600), outcome,
        )
        logger.debug("MLflow failure details", exc_info=exc)

    # MLflow calls --------------------------------------------------------------------------
    def _resolve_uri(self, run_dir: str | None) -> tuple[str, str | None]:
        """The tracking URI and, for a store ROSE chose, where artifacts go."""
        if self.requested_uri:
            return self.requested_uri, self.artifact_location or _next_to_sqlite(self.requested_uri)
        env = os.environ.get("MLFLOW_TRACKING_URI")
        if env:
            return env, self.artifact_location or _next_to_sqlite(env)
        import mlflow

        if mlflow.is_tracking_uri_set():  # type: ignore[no-untyped-call]  # the script called mlflow.set_tracking_uri(...)
            uri = mlflow.get_tracking_uri()
            return uri, self.artifact_location or _next_to_sqlite(uri)
        if run_dir is None:
            from rose.engine import runs_root

            run_dir = runs_root()
        directory = os.path.abspath(run_dir)
        os.makedirs(directory, exist_ok=True)
        location = self.artifact_location or _file_uri(os.path.join(directory, "mlartifacts"))
        return "sqlite:///" + os.path.join(directory, "mlflow.db"), location

    def _start(self, job: _Start) -> None:
        uri, artifact_location = self._resolve_uri(job.run_dir)
        self.tracking_uri = uri
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=uri)
        experiment = client.get_experiment_by_name(self.experiment_name)
        if experiment is None:
            try:
                experiment_id = client.create_experiment(self.experiment_name, artifact_location=artifact_location)
            except MlflowException:
                experiment = client.get_experiment_by_name(self.experiment_name)  # created meanwhile
                if experiment is None:
                    raise
                experiment_id = experiment.experiment_id
        else:
            experiment_id = experiment.experiment_id
            if experiment.lifecycle_stage == "deleted":
                logger.info("MLflow experiment %r was deleted; restoring it", self.experiment_name)
                client.restore_experiment(experiment_id)
        run = client.create_run(experiment_id, start_time=job.start_ms, tags=job.tags, run_name=job.run_name)
        self._client = client
        self.experiment_id = experiment_id
        self.run_name = run.info.run_name or job.run_name
        run_id = run.info.run_id
        self.run_ids[_PARENT] = run_id
        self._log_batch(run_id, {}, job.params, {})
        if self.log_artifacts:
            self._guard("logging manifest.json", self._artifact, run_id, "manifest.json", job.manifest_json)
        logger.info(
            "MLflow run %s (%s) in experiment %r at %s; view it with: mlflow ui --backend-store-uri %s",
            self.run_name, run_id, self.experiment_name, uri, uri,
        )

    def _run_id(self, key: Any) -> str | None:
        if key in self.run_ids:
            return self.run_ids[key]
        parent = self.run_ids.get(_PARENT)
        if parent is None or key in self._skipped_children:
            return None
        name = f"{self.run_name}/learner-{key}"
        tags = {"mlflow.parentRunId": parent, "rose.learner_id": _clip(str(key), _MAX_TAG_VALUE)}
        try:
            run = self._client.create_run(self.experiment_id, start_time=_now_ms(), tags=tags, run_name=name)
        except Exception as exc:  # noqa: BLE001 - reported; that learner's data is skipped
            self._skipped_children.add(key)
            self._failed(f"creating the nested run for learner {key}", exc, fatal=False)
            return None
        run_id: str = run.info.run_id
        self.run_ids[key] = run_id
        return run_id

    def _write_logs(self, pending: Mapping[Any, _Log]) -> None:
        for key, log in pending.items():
            if self.disabled:
                return
            run_id = self._run_id(key)
            if run_id is None:
                continue
            self._guard(f"logging to the {_label(key)} run", self._log_batch, run_id, log.metrics, log.params, log.tags)

    def _log_batch(
        self,
        run_id: str,
        metrics: Mapping[tuple[str, int], tuple[float, int]],
        params: Mapping[str, str],
        tags: Mapping[str, str],
    ) -> None:
        from mlflow.entities import Metric, Param, RunTag

        logged = self._params.setdefault(run_id, {})
        new_params = []
        for key, value in params.items():
            if key in logged:
                if logged[key] != value:
                    logger.debug("MLflow param %r already logged as %r; not changing it to %r", key, logged[key], value)
                continue
            logged[key] = value
            new_params.append(Param(key, value))
        metric_list = [Metric(key, value, ms, step) for (key, step), (value, ms) in metrics.items()]
        tag_list = [RunTag(key, value) for key, value in tags.items()]
        while metric_list or new_params or tag_list:
            batch_metrics, metric_list = metric_list[:_MAX_METRICS_PER_BATCH], metric_list[_MAX_METRICS_PER_BATCH:]
            batch_params, new_params = new_params[:_MAX_PARAMS_TAGS_PER_BATCH], new_params[_MAX_PARAMS_TAGS_PER_BATCH:]
            batch_tags, tag_list = tag_list[:_MAX_PARAMS_TAGS_PER_BATCH], tag_list[_MAX_PARAMS_TAGS_PER_BATCH:]
            self._client.log_batch(run_id, metrics=batch_metrics, params=batch_params, tags=batch_tags)

    def _artifact(self, run_id: str, name: str, text: str) -> None:
        with tempfile.TemporaryDirectory(prefix="rose-mlflow-") as tmp:
            path = os.path.join(tmp, name)
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text)
            self._client.log_artifact(run_id, path)

    def _plot(self, run_id: str, stop: _Stop) -> None:
        with tempfile.TemporaryDirectory(prefix="rose-mlflow-") as tmp:
            path = os.path.join(tmp, "learning_curve.png")
            plot_learning_curve(path, stop.curves, stop.metric_name, stop.threshold, stop.title)
            self._client.log_artifact(run_id, path)

    def _stop(self, stop: _Stop) -> None:
        if self.disabled or self._client is None:
            return
        for key, child in stop.children.items():
            run_id = self._run_id(key)
            if run_id is None:
                continue
            self._guard(f"tagging the {_label(key)} run", self._log_batch, run_id, {}, {}, child.tags)
            if self.log_artifacts:
                self._guard(f"logging final_state.json of {_label(key)}", self._artifact, run_id,
                            "final_state.json", child.final_json)
            self._guard(f"ending the {_label(key)} run", self._client.set_terminated, run_id, child.status, stop.end_ms)
        run_id = self.run_ids.get(_PARENT)
        if run_id is None:
            return
        self._guard("tagging the campaign run", self._log_batch, run_id, {}, {}, stop.tags)
        if self.log_artifacts:
            if any(stop.curves.values()):
                self._guard("logging learning_curve.png", self._plot, run_id, stop)
            self._guard("logging final_state.json", self._artifact, run_id, "final_state.json", stop.final_json)
        self._guard("ending the campaign run", self._client.set_terminated, run_id, stop.status, stop.end_ms)


def _file_uri(path: str) -> str:
    from pathlib import Path

    return Path(path).absolute().as_uri()


def _next_to_sqlite(uri: str) -> str | None:
    """``file://.../mlartifacts`` beside a ``sqlite:///path/mlflow.db`` store (else None)."""
    prefix = "sqlite:///"
    if not uri.startswith(prefix):
        return None
    path = uri[len(prefix):]
    if not path or path.startswith(":memory:"):
        return None
    return _file_uri(os.path.join(os.path.dirname(os.path.abspath(path)), "mlartifacts"))


def plot_learning_curve(
    path: str,
    curves: Mapping[str, Iterable[tuple[int, float]]],
    metric_name: str,
    threshold: float | None = None,
    title: str = "",
) -> None:
    """Write a PNG of ``metric_name`` against iteration, one line per curve, threshold dashed.

    Uses matplotlib's Agg canvas directly (no pyplot, so a script's own backend is untouched).
    The y axis is logarithmic when all values are positive and span more than two decades.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(7.5, 4.5), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    values: list[float] = []
    for label, points in curves.items():
        finite = sorted((i, v) for i, v in points if math.isfinite(v))
        if not finite:
            continue
        xs, ys = zip(*finite)
        values.extend(ys)
        ax.plot(xs, ys, marker="o", markersize=3.5, linewidth=1.5, label=label)
    if threshold is not None and math.isfinite(threshold):
        ax.axhline(threshold, color="tab:red", linestyle="--", linewidth=1.2, label=f"threshold {threshold:g}")
        values.append(threshold)
    if values and min(values) > 0 and max(values) / min(values) > 100:
        ax.set_yscale("log")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("iteration")
    ax.set_ylabel(metric_name)
    ax.set_title(title or f"{metric_name} per iteration")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    fig.tight_layout()
    fig.savefig(path)


# -- the tracker ----------------------------------------------------------------------------


class MLflowTracker(TrackerBase):
    """Record a ROSE campaign in MLflow: ``learner.add_tracker(MLflowTracker("My_Experiment"))``.

    ``experiment_name`` is created if missing. ``run_name`` defaults to the campaign
    directory's name. The store is ``tracking_uri``, else ``MLFLOW_TRACKING_URI``, else a URI
    the script set with ``mlflow.set_tracking_uri``, else ``sqlite:///<campaign dir>/mlflow.db``
    with artifacts in ``<campaign dir>/mlartifacts`` (MLflow's recommended local store).
    ``artifact_location`` sets where a newly created experiment keeps artifacts.
    ``log_artifacts=False`` skips the manifest, plot and final-state files. ``tags`` are added
    to the campaign run. ``queue_size`` bounds what waits for MLflow; ``flush_timeout``
    (seconds, None for no limit) bounds how long ``on_stop`` waits for it to be written.
    ``batch_interval`` (seconds, default 0.25) groups updates into one MLflow write per
    interval, which keeps the tracker's CPU use (and so its share of the GIL) small.

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
        flush_timeout: float | None = 300.0,
        batch_interval: float = 0.25,
    ) -> None:
        if importlib.util.find_spec("mlflow") is None:
            raise ImportError(
                "MLflowTracker needs the mlflow package, which is not installed in this environment: "
                "pip install rose-plugin-mlflow (or pip install mlflow)"
            )
        if not isinstance(experiment_name, str) or not experiment_name.strip():
            raise ValueError(f"MLflowTracker: experiment_name must be a non-empty string, got {experiment_name!r}")
        if run_name is not None and not isinstance(run_name, str):
            raise TypeError(f"MLflowTracker: run_name must be a string or None, got {run_name!r}")
        if tracking_uri is not None and (not isinstance(tracking_uri, str) or not tracking_uri.strip()):
            raise ValueError(
                f"MLflowTracker: tracking_uri must be a URI such as 'http://127.0.0.1:5000' or "
                f"'sqlite:///mlflow.db', got {tracking_uri!r}"
            )
        if not isinstance(queue_size, int) or isinstance(queue_size, bool) or queue_size < 1:
            raise ValueError(f"MLflowTracker: queue_size must be a whole number >= 1, got {queue_size!r}")
        if isinstance(batch_interval, bool) or not isinstance(batch_interval, (int, float)) or not batch_interval >= 0:
            raise ValueError(f"MLflowTracker: batch_interval must be a number of seconds >= 0, got {batch_interval!r}")
        if flush_timeout is not None and not flush_timeout > 0:
            raise ValueError(f"MLflowTracker: flush_timeout must be a positive number of seconds or None, got {flush_timeout!r}")
        self.experiment_name = experiment_name
        self.run_name = run_name
        self.tracking_uri = tracking_uri
        self.artifact_location = artifact_location
        self.log_artifacts = log_artifacts
        self.tags = {mlflow_key(k): _clip(str(v), _MAX_TAG_VALUE) for k, v in (tags or {}).items()}
        self.queue_size = queue_size
        self.flush_timeout = flush_timeout
        self.batch_interval = float(batch_interval)
        self._lock = threading.RLock()
        self._writer: _Writer | None = None
        self._reset()

    def _reset(self) -> None:
        self._starts = 0
        self._joined = False
        self._manifest: PipelineManifest | None = None
        self._reasons: list[str] = []
        self._child_reasons: dict[Any, str] = {}
        self._curves: dict[Any, list[tuple[int, float]]] = {}
        self._last: dict[Any, IterationState] = {}
        self._string_tags: dict[Any, dict[str, str]] = {}
        self._seen: set[Any] = set()
        self._dropped = 0
        self._warned_unstarted = False

    # what the writer found out -------------------------------------------------------------
    @property
    def run_id(self) -> str | None:
        """The campaign's (parent) MLflow run id, once created."""
        return self._writer.run_ids.get(_PARENT) if self._writer else None

    @property
    def child_run_ids(self) -> dict[Any, str]:
        """Nested run ids by learner id (parallel learners)."""
        if self._writer is None:
            return {}
        return {k: v for k, v in self._writer.run_ids.items() if k != _PARENT}

    @property
    def experiment_id(self) -> str | None:
        """The MLflow experiment id, once known."""
        return self._writer.experiment_id if self._writer else None

    @property
    def resolved_tracking_uri(self) -> str | None:
        """The tracking URI actually used (after ``MLFLOW_TRACKING_URI`` and defaults)."""
        return self._writer.tracking_uri if self._writer else None

    @property
    def active(self) -> bool:
        """False once an MLflow failure turned tracking off for this campaign."""
        return self._writer is not None and not self._writer.disabled

    # the tracker protocol ----------------------------------------------------------------------
    def on_start(self, manifest: PipelineManifest) -> None:
        """Create (or join) the campaign's run and queue its parameters."""
        with self._lock:
            params = self._manifest_params(manifest)
            if self._starts == 0:
                self._reset()
                self._manifest = manifest
                self._writer = _Writer(
                    experiment_name=self.experiment_name, tracking_uri=self.tracking_uri,
                    artifact_location=self.artifact_location, log_artifacts=self.log_artifacts,
                    queue_size=self.queue_size, batch_interval=self.batch_interval,
                )
                tags = {
                    "rose.learner_type": manifest.learner_type,
                    **({"rose.run_dir": manifest.run_dir} if manifest.run_dir else {}),
                    **self.tags,
                }
                run_name = self.run_name or (os.path.basename(os.path.normpath(manifest.run_dir))
                                             if manifest.run_dir else manifest.learner_type)
                job: Any = _Start(
                    run_name=run_name, run_dir=manifest.run_dir, params=params,
                    tags={mlflow_key(k): _clip(str(v), _MAX_TAG_VALUE) for k, v in tags.items()},
                    manifest_json=json.dumps(manifest.to_dict(), indent=2, sort_keys=True, default=repr),
                    start_ms=_now_ms(),
                )
            else:  # another learner of the same campaign: its parameters join the parent run
                logger.debug("MLflowTracker: learner %s joins the running campaign", manifest.learner_type)
                self._joined = True
                job = _Log(_PARENT, params=params)
            self._starts += 1
        self._put(job)

    def on_iteration(self, state: IterationState) -> None:
        """Queue this iteration's metrics (and, the first time, the learner's configuration)."""
        with self._lock:
            if self._starts == 0 or self._writer is None:
                if not self._warned_unstarted:
                    self._warned_unstarted = True
                    logger.warning("MLflowTracker.on_iteration before on_start: nothing is logged until on_start")
                return
            if self._writer.disabled:
                return
            key = _PARENT if state.learner_id is None else state.learner_id
            job = self._iteration_job(key, state)
        self._put(job)

    def on_stop(self, final_state: IterationState | None, reason: str) -> None:
        """Tag, attach the plot and final state, end the run(s) and wait until all is written."""
        with self._lock:
            if self._starts == 0 or self._writer is None:
                logger.debug("MLflowTracker.on_stop without a running campaign; ignored")
                return
            self._starts -= 1
            self._reasons.append(reason)
            if final_state is not None:
                key = _PARENT if final_state.learner_id is None else final_state.learner_id
                self._last.setdefault(key, final_state)
                if final_state.learner_id is not None and self._joined:
                    # one learner of several that each started the tracker: its own reason
                    self._child_reasons[final_state.learner_id] = reason
            if self._starts > 0:
                return
            stop = self._stop_job(final_state)
            writer = self._writer
        self._put(stop, force=True)
        if not stop.done.wait(self.flush_timeout):
            logger.warning(
                "MLflowTracker: MLflow did not finish writing within %s s (%d item(s) still queued); "
                "the campaign ends without waiting longer", self.flush_timeout, writer.queue.qsize(),
            )
            return
        writer.thread.join(timeout=5)
        if self._dropped:
            logger.warning("MLflowTracker: %d update(s) were dropped because the queue of %d was full",
                           self._dropped, self.queue_size)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything queued so far is written; False on timeout."""
        writer = self._writer
        if writer is None or not writer.thread.is_alive():
            return True
        barrier = _Barrier()
        self._put(barrier, force=True)
        return barrier.done.wait(timeout)

    # building jobs -----------------------------------------------------------------------------
    def _put(self, job: Any, *, force: bool = False) -> None:
        writer = self._writer
        if writer is None:
            return
        if force or writer.queue.qsize() * 2 >= writer.queue.maxsize:
            writer.wake.set()
        try:
            writer.queue.put_nowait(job)
            return
        except queue.Full:
            pass
        if _on_event_loop_thread() and not force:
            # called straight from the event loop: never block it, drop this update instead
            self._dropped += 1
            if self._dropped == 1:
                logger.warning("MLflowTracker: queue full (%d); dropping updates until MLflow catches up", self.queue_size)
            return
        try:  # on a tracker worker thread: wait for room (the learning loop is not blocked)
            writer.queue.put(job, timeout=self.flush_timeout)
        except queue.Full:
            self._dropped += 1
            logger.warning("MLflowTracker: MLflow made no progress for %s s; an update was dropped", self.flush_timeout)

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
            for key, value in task.resources.items():
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
        """``{task: (args, kwargs)}`` of a LearnerConfig (or plain dict) at ``iteration``."""
        if config is None:
            return {}
        manifest = manifest or self._manifest
        kinds: dict[str, str] = {}
        if manifest is not None:
            kinds = {name: task.kind or name for name, task in manifest.tasks.items()}
            if manifest.criterion is not None:
                kinds["criterion"] = "criterion"
        if not kinds:  # no registered tasks known: every configured field
            from attrs import fields, has

            if has(type(config)):
                kinds = {
                    f.name: f.name for f in fields(type(config)) if f.name != "tasks" and getattr(config, f.name) is not None
                }
                kinds.update({name: name for name in getattr(config, "tasks", {}) or {}})
            elif isinstance(config, Mapping):
                kinds = {str(name): str(name) for name in config}
        resolve = getattr(config, "get_task_config", None)
        out: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {}
        for name, kind in kinds.items():
            try:
                if callable(resolve):
                    found = resolve(name, iteration)
                    if found is None and kind != name:
                        found = resolve(kind, iteration)
                elif isinstance(config, Mapping):
                    found = config.get(name, config.get(kind))
                else:
                    return {}
            except Exception as exc:  # noqa: BLE001 - a user schedule failing must not stop tracking
                logger.debug("MLflowTracker: could not resolve the %r configuration at iteration %d: %s", name, iteration, exc)
                continue
            if isinstance(found, Mapping) and not {"args", "kwargs"} & set(found):
                # a per-iteration table as LearnerConfig.to_dict() writes it: {"0": {...}, "-1": {...}}
                found = next((found[k] for k in (str(iteration), iteration, "-1", -1, "default") if k in found), None)
            if found is None:
                continue
            if isinstance(found, Mapping):
                args, kwargs = found.get("args", ()), found.get("kwargs", {})
            else:
                args, kwargs = getattr(found, "args", ()), getattr(found, "kwargs", {})
            out[name] = (tuple(args or ()), dict(kwargs or {}))
        return out

    def _iteration_job(self, key: Any, state: IterationState) -> _Log:
        step = int(state.iteration)
        ms = _now_ms()
        metrics: dict[str, float] = {}
        metric_name = state.metric_name or "metric"
        value = _number(state.metric_value) if state.metric_value is not None else None
        if value is not None:
            metrics[mlflow_key(metric_name)] = value
            self._curves.setdefault(key, []).append((step, value))
        for name, raw in state.state.items():
            number = _number(raw)
            if number is not None:
                metrics.setdefault(mlflow_key(name), number)
        params: dict[str, str] = {}
        tags: dict[str, str] = {}
        first = key not in self._seen
        self._seen.add(key)
        if first and key != _PARENT:
            params["learner_id"] = _param_value(state.learner_id)
        sent = self._string_tags.setdefault(key, {})
        for task, (args, kwargs) in self._task_configs(state.current_config, step).items():
            if first:
                params.update({mlflow_key(k): _param_value(v) for k, v in _config_params(f"config/{task}", args, kwargs).items()})
            for name, raw in kwargs.items():
                config_key = mlflow_key(f"config/{task}/{name}")
                number = _number(raw, parse_strings=True)
                if number is not None:
                    metrics[config_key] = number
                    continue
                text = _clip(raw if isinstance(raw, str) else _param_value(raw), _MAX_TAG_VALUE)
                if sent.get(config_key) != text:
                    sent[config_key] = tags[config_key] = text
        self._last[key] = state
        return _Log(key, metrics={(k, step): (v, ms) for k, v in metrics.items()}, params=params, tags=tags)

    def _stop_job(self, final_state: IterationState | None) -> _Stop:
        reasons = self._reasons
        reason = "error" if "error" in reasons else "stopped" if "stopped" in reasons else reasons[-1]
        manifest = self._manifest
        max_iter = manifest.max_iter if manifest is not None else None
        children: dict[Any, _Child] = {}
        for key, last in self._last.items():
            if key == _PARENT:
                continue
            child_reason = self._child_reasons.get(key)
            if child_reason is None:
                if last.should_stop:
                    child_reason = "criterion_met"
                elif max_iter and last.iteration + 1 >= max_iter:
                    child_reason = "max_iter_reached"
                else:
                    child_reason = reason
            children[key] = _Child(
                status="FAILED" if child_reason == "error" else "FINISHED",
                tags={"stop_reason": child_reason, "final_iteration": str(last.iteration)},
                final_json=_dump({"learner_id": key, "reason": child_reason, "final_state": last.to_dict()}),
            )
        if final_state is not None and final_state.learner_id is None:
            final_iteration: int | None = final_state.iteration
        else:
            final_iteration = max((s.iteration for s in self._last.values()), default=None)
        final = final_state if final_state is not None else self._last.get(_PARENT)
        document: dict[str, Any] = {"reason": reason, "final_state": final.to_dict() if final is not None else None}
        if children:
            document["learners"] = {str(k): s.to_dict() for k, s in self._last.items() if k != _PARENT}
        crit = manifest.criterion if manifest is not None else None
        threshold = crit.threshold if crit is not None else None
        metric_name = crit.metric_name if crit is not None else None
        if threshold is None or metric_name is None:
            for state in self._last.values():
                threshold = threshold if threshold is not None else state.metric_threshold
                metric_name = metric_name or state.metric_name
        curves = {
            (metric_name or "metric") if key == _PARENT else f"learner {key}": points
            for key, points in self._curves.items()
        }
        learner_type = manifest.learner_type if manifest is not None else "ROSE"
        return _Stop(
            status="FAILED" if reason == "error" else "FINISHED",
            tags={"stop_reason": reason, "final_iteration": "none" if final_iteration is None else str(final_iteration)},
            final_json=_dump(document),
            children=children,
            curves=curves,
            metric_name=metric_name or "metric",
            threshold=threshold,
            title=f"{learner_type}: {metric_name or 'metric'} per iteration ({reason})",
            end_ms=_now_ms(),
        )


def _config_params(prefix: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if args:
        out[f"{prefix}/args"] = list(args)
    for name, value in kwargs.items():
        out[f"{prefix}/{name}"] = value
    return out


def _dump(document: Any) -> str:
    return json.dumps(jsonable(document), indent=2, sort_keys=True, default=repr)
