"""``RunWriter``: one campaign's MLflow calls, made in the writer process; a failure is one warning, never raised.

After three failures in a row, a failed start, or once failing calls took ``Start.retry_budget``,
the campaign's tracking is off and the campaign goes on.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from rose_plugin_mlflow.jobs import (
    MAX_METRICS_PER_BATCH,
    MAX_PARAMS_TAGS_PER_BATCH,
    MAX_TAG_VALUE,
    PARENT,
    Log,
    Recover,
    Start,
    Stop,
    clip,
    now_ms,
    state_metrics,
    view_hint,
)

__all__ = ["RunWriter", "plot_learning_curve"]

logger = logging.getLogger("rose_plugin_mlflow")

MAX_FAILURES = 3  # consecutive failed MLflow calls after which a campaign's tracking is turned off
_clients: dict[str, Any] = {}  # MLflow clients by tracking URI, shared by the campaigns this process writes
#: what a RunWriter tells the tracker: ("started", experiment_id, run_name), ("run", key, run_id), ("disabled",)
Report = Callable[[tuple[Any, ...]], Any]


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
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _label(key: Any) -> str:
    return "campaign" if key == PARENT else f"learner {key}"


class RunWriter:
    """The MLflow side of one campaign: ``start``, ``write``, ``stop``; never raises."""

    def __init__(self, report: Report) -> None:
        self._report = report
        self.disabled = False
        self.failures = 0
        self.retry_budget = 30.0
        self.failing_seconds = 0.0  # time spent in MLflow calls that failed
        self.experiment_name = ""
        self.tracking_uri = ""
        self.experiment_id: str | None = None
        self.run_name = ""
        self.log_artifacts = True
        self.run_ids: dict[Any, str] = {}
        self._client: Any = None
        self._params: dict[str, dict[str, str]] = {}
        self._skipped_children: set[Any] = set()
        self._manifest_json = "{}"
        self._started_ms: dict[Any, int] = {}
        self._campaign_dir: str | None = None

    # the three jobs ------------------------------------------------------------------------
    def start(self, job: Start) -> None:
        """Create (or restore) the experiment and the campaign's run, log its parameters."""
        self.experiment_name = job.experiment_name
        self.tracking_uri = job.tracking_uri
        self.log_artifacts = job.log_artifacts
        self.retry_budget = job.retry_budget
        self._campaign_dir = job.run_dir
        self._guard("starting the MLflow run", self._start, job, fatal=True)

    def write(self, pending: Mapping[Any, Log]) -> None:
        """Write the merged logs of each run (nested runs are created on first use)."""
        for key, log in pending.items():
            if self.disabled:
                return
            run_id = self._run_id(key, log.name, log.start_ms)
            if run_id is None:
                continue
            self._guard(f"logging to the {_label(key)} run", self._log_batch, run_id, log.metrics, log.params, log.tags)

    def stop(self, job: Stop) -> None:
        """Tag the runs, attach the final state and the learning curve, end every run."""
        if self.disabled or self._client is None:
            return
        for key, child in job.children.items():
            run_id = self._run_id(key, child.name, child.start_ms)
            if run_id is None:
                continue
            self._guard(f"tagging the {_label(key)} run", self._log_batch, run_id, {}, {}, child.tags)
            if self.log_artifacts:
                self._guard(f"logging final_state.json of {_label(key)}", self._artifact, run_id,
                            "final_state.json", child.final_json)
            self._guard(f"ending the {_label(key)} run", self._client.set_terminated, run_id, child.status,
                        max(child.end_ms, self._started_ms.get(key, 0)))
        run_id = self.run_ids.get(PARENT)
        if run_id is None:
            return
        self._guard("tagging the campaign run", self._log_batch, run_id, {}, {}, job.tags)
        if self.log_artifacts:
            self._guard("logging manifest.json", self._artifact, run_id, "manifest.json", self._manifest_json)
            if any(job.curves.values()):
                self._guard("logging learning_curve.png", self._plot, run_id, job)
            self._guard("logging final_state.json", self._artifact, run_id, "final_state.json", job.final_json)
        self._guard("ending the campaign run", self._client.set_terminated, run_id, job.status,
                    max(job.end_ms, self._started_ms.get(PARENT, 0)))

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
        self._finish(status, {"stop_reason": reason}, journal)

    def recover(self, job: Recover) -> None:
        """The campaign's first writer died: end its runs with the journal's metrics, ``job.tags`` and ``job.status``."""
        self.run_ids.update(job.run_ids)
        self.start(job.start)
        self._finish(job.status, job.tags, self._journal())

    def _journal(self) -> Any:
        """The campaign's journal read back (``rose.runs.load_run``), or None."""
        if not self._campaign_dir:
            return None
        from rose.runs import load_run

        try:
            return load_run(self._campaign_dir)
        except Exception as exc:  # noqa: BLE001 - a damaged or missing journal: the runs still end
            logger.warning("MLflow tracker: cannot read the journal of %s (%s); its runs end without replay",
                           self._campaign_dir, exc)
            return None

    def _finish(self, status: str, tags: dict[str, str], journal: Any) -> None:
        if self._client is None:
            return
        self.disabled = False  # one more try for each step, within the same budget per call
        if journal is not None:
            for learner_id, history in journal.learners.items():
                self.disabled = False
                self._guard(f"replaying the journal of learner {learner_id}", self._replay, learner_id, history.iterations)
        parent = self.run_ids.get(PARENT)
        if self.log_artifacts and parent is not None:
            self._guard("logging manifest.json", self._artifact, parent, "manifest.json", self._manifest_json)
        for key, run_id in list(self.run_ids.items()):
            self.disabled = False
            self._guard(f"tagging the {_label(key)} run", self._log_batch, run_id, {}, {}, tags)
            self._guard(f"ending the {_label(key)} run", self._client.set_terminated, run_id, status,
                        max(now_ms(), self._started_ms.get(key, 0)))

    def _replay(self, learner_id: Any, iterations: list[dict[str, Any]]) -> None:
        """Log the metrics of the journal's iterations that the run lacks, and its final iteration."""
        from rose.state import IterationState

        key = PARENT if learner_id is None else learner_id
        run_id = self._run_id(key) if iterations or key == PARENT else None
        if run_id is None:
            return
        stored: dict[str, set[int]] = {}
        missing: dict[tuple[str, int], tuple[float, int]] = {}
        ms = now_ms()
        for data in iterations:
            state = IterationState.from_dict(data)
            for name, value in state_metrics(state).items():
                if name not in stored:
                    stored[name] = {m.step for m in self._client.get_metric_history(run_id, name)}
                if state.iteration not in stored[name]:
                    missing[(name, state.iteration)] = (value, ms)
        tags = {"final_iteration": str(iterations[-1]["iteration"])} if iterations else {}
        self._log_batch(run_id, missing, {}, tags)
        if missing:
            logger.info("MLflow: %d metric value(s) of the %s run replayed from the journal", len(missing), _label(key))

    # failures ------------------------------------------------------------------------------
    def _guard(self, what: str, fn: Any, *args: Any, fatal: bool = False) -> bool:
        if self.disabled:
            return False
        began = time.monotonic()
        try:
            fn(*args)
        except Exception as exc:  # noqa: BLE001 - any MLflow failure is reported, never raised into the campaign
            self.failing_seconds += time.monotonic() - began
            self._failed(what, exc, fatal=fatal)
            return False
        self.failures = 0
        return True

    def _failed(self, what: str, exc: BaseException, *, fatal: bool) -> None:
        self.failures += 1
        if fatal or self.failures >= MAX_FAILURES or self.failing_seconds >= self.retry_budget:
            self.disabled = True
            self._report(("disabled",))
            outcome = "MLflow tracking is off for the rest of this campaign; the campaign goes on"
        else:
            outcome = "that data is not in MLflow; the campaign goes on"
        cause = " ".join(f"{type(exc).__name__}: {exc}".split())
        logger.warning(
            "MLflow tracker (experiment %r, tracking URI %s): %s failed: %s. %s. Check that the tracking "
            "server is up and the URI is right (tracking_uri= or MLFLOW_TRACKING_URI).",
            self.experiment_name, self.tracking_uri or "(default)", what, clip(cause, 600), outcome,
        )
        logger.debug("MLflow failure details", exc_info=exc)

    # MLflow calls --------------------------------------------------------------------------
    def _start(self, job: Start) -> None:
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient

        client = _clients.get(job.tracking_uri)
        with _store_lock(job.tracking_uri):
            if client is None:  # one per store for the writer's life: opening a store checks its schema
                client = MlflowClient(tracking_uri=job.tracking_uri)
            experiment = client.get_experiment_by_name(job.experiment_name)  # creates or upgrades the tables
            _clients[job.tracking_uri] = client
        if experiment is None:
            try:
                experiment_id = client.create_experiment(job.experiment_name, artifact_location=job.artifact_location)
            except MlflowException:
                experiment = client.get_experiment_by_name(job.experiment_name)  # created meanwhile
                if experiment is None:
                    raise
                experiment_id = experiment.experiment_id
        else:
            experiment_id = experiment.experiment_id
            if experiment.lifecycle_stage == "deleted":
                logger.info("MLflow experiment %r was deleted; restoring it", job.experiment_name)
                client.restore_experiment(experiment_id)
        self._client = client
        self.experiment_id = experiment_id
        run_id = self.run_ids.get(PARENT)  # known when recovering the campaign of a writer that died
        if run_id is None:
            run = client.create_run(experiment_id, start_time=job.start_ms, tags=job.tags, run_name=job.run_name)
            run_id = run.info.run_id
            self.run_name = run.info.run_name or job.run_name
        else:
            self.run_name = job.run_name
        self.run_ids[PARENT] = run_id
        self._started_ms[PARENT] = job.start_ms
        self._report(("started", experiment_id, self.run_name))
        self._report(("run", PARENT, run_id))
        self._log_batch(run_id, {}, job.params, {})
        self._manifest_json = job.manifest_json  # attached at the end, with the final state
        logger.info(
            "MLflow run %s (%s) in experiment %r at %s; %s",
            self.run_name, run_id, job.experiment_name, job.tracking_uri, view_hint(job.tracking_uri, experiment_id, run_id),
        )

    def _run_id(self, key: Any, name: str | None = None, start_ms: int | None = None) -> str | None:
        """The run of ``key``; a learner's nested run is created on first use, with its name and real start."""
        if key in self.run_ids:
            return self.run_ids[key]
        parent = self.run_ids.get(PARENT)
        if parent is None or key in self._skipped_children:
            return None
        name = name or f"learner-{key}"
        start = start_ms if start_ms is not None else self._started_ms.get(PARENT, now_ms())
        tags = {"mlflow.parentRunId": parent, "rose.learner_id": clip(str(key), MAX_TAG_VALUE)}
        try:
            run = self._client.create_run(self.experiment_id, start_time=start, tags=tags, run_name=name)
        except Exception as exc:  # noqa: BLE001 - reported; that learner's data is skipped
            self._skipped_children.add(key)
            self._failed(f"creating the nested run for learner {key}", exc, fatal=False)
            return None
        run_id: str = run.info.run_id
        self.run_ids[key] = run_id
        self._started_ms[key] = start
        self._report(("run", key, run_id))
        return run_id

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
            batch_metrics, metric_list = metric_list[:MAX_METRICS_PER_BATCH], metric_list[MAX_METRICS_PER_BATCH:]
            batch_params, new_params = new_params[:MAX_PARAMS_TAGS_PER_BATCH], new_params[MAX_PARAMS_TAGS_PER_BATCH:]
            batch_tags, tag_list = tag_list[:MAX_PARAMS_TAGS_PER_BATCH], tag_list[MAX_PARAMS_TAGS_PER_BATCH:]
            self._client.log_batch(run_id, metrics=batch_metrics, params=batch_params, tags=batch_tags)

    def _artifact(self, run_id: str, name: str, text: str) -> None:
        with tempfile.TemporaryDirectory(prefix="rose-mlflow-") as tmp:
            path = os.path.join(tmp, name)
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text)
            self._client.log_artifact(run_id, path)

    def _plot(self, run_id: str, stop: Stop) -> None:
        with tempfile.TemporaryDirectory(prefix="rose-mlflow-") as tmp:
            path = os.path.join(tmp, "learning_curve.png")
            plot_learning_curve(path, stop.curves, stop.metric_name, stop.threshold, stop.title)
            self._client.log_artifact(run_id, path)


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
    fig.savefig(path, metadata={"Title": title or f"{metric_name} per iteration", "Description": f"y axis: {metric_name}"})
