"""What the tracker sends to the MLflow writer process, MLflow's limits, and MLflow's keys for the metrics of a
state (:func:`mlflow_metrics`: the tracker and a writer replaying a journal record the same keys). No MLflow import."""

from __future__ import annotations

import os
import re
import shlex
import time
from collections.abc import Mapping
from typing import Any

from attrs import define, field

PARENT = "<campaign>"  # run key of the campaign's own run (the parent run when learners have ids)
# MLflow's limits (mlflow.utils.validation): key length, value lengths. Its client splits big batches itself.
MAX_KEY, MAX_PARAM_VALUE, MAX_TAG_VALUE = 250, 6000, 8000

# Characters MLflow accepts in keys on every platform (colons are refused on Windows servers).
_BAD_KEY_CHARS = re.compile(r"[^A-Za-z0-9_.\- /]")
_KEYS: dict[str, str] = {}  # the same few names come back every iteration


def now_ms() -> int:
    """Wall-clock milliseconds, as MLflow timestamps are."""
    return int(time.time() * 1000)


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending in ``...`` when cut."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def mlflow_key(raw: object) -> str:
    """Turn any key into one MLflow accepts for a param, metric or tag.

    Characters outside letters, digits, ``_ - . / space`` become ``_``; empty, ``.`` and
    ``..`` path segments (which MLflow rejects) are removed or replaced; the result is at
    most 250 characters. ``"config/simulation/--n_labeled"`` is kept as is.
    """
    text = raw if type(raw) is str else str(raw)
    known = _KEYS.get(text)
    if known is None:
        parts = [p.replace(".", "_") if p in (".", "..") else p for p in _BAD_KEY_CHARS.sub("_", text)[:MAX_KEY].split("/") if p]
        known = "/".join(parts) or "_"
        if len(_KEYS) < 10_000:
            _KEYS[text] = known
    return known


def mlflow_metrics(values: Mapping[str, float]) -> dict[str, float]:
    """The metrics of one iteration (the core's :func:`rose.tracking.state_metrics`) under MLflow keys."""
    metrics: dict[str, float] = {}
    for name, value in values.items():
        metrics.setdefault(mlflow_key(name), value)
    return metrics


@define
class Start:
    """Open a campaign: store, experiment, the campaign's run; the process's ``environ`` and ``cwd``
    (so ``MLFLOW_*`` and relative paths mean what they mean to the script); ``run_dir`` for replays and the plot."""

    experiment_name: str
    tracking_uri: str
    artifact_location: str | None
    log_artifacts: bool
    run_name: str
    params: dict[str, str]
    tags: dict[str, str]
    manifest: dict[str, Any]  # JSON data, for manifest.json
    start_ms: int
    environ: dict[str, str]
    cwd: str
    log_level: int
    retry_budget: float = 30.0
    run_dir: str | None = None
    metric_units: str | None = None  # the learning curve's axis units
    #: after the campaign's writer died, the runs it had made: reused, and the journal's metrics replayed at the stop
    lost_runs: dict[Any, str] | None = None


@define
class Log:
    """Metrics, parameters and tags for one run (``run`` is ``PARENT`` or a learner id)."""

    run: Any
    metrics: dict[tuple[str, int], tuple[float, int]] = field(factory=dict)  # (key, step) -> (value, ms)
    params: dict[str, str] = field(factory=dict)
    tags: dict[str, str] = field(factory=dict)
    #: a nested run's name and start time, used when the writer creates that run
    name: str | None = None
    start_ms: int | None = None

    def merge(self, other: Log) -> None:
        """Add ``other``'s data; a parameter keeps its first value (MLflow never changes one)."""
        self.metrics.update(other.metrics)
        self.params = {**other.params, **self.params}
        self.tags.update(other.tags)
        self.name = self.name or other.name
        self.start_ms = self.start_ms if self.start_ms is not None else other.start_ms


@define
class End:
    """How one run ends: its status, tags and ``final_state.json`` (a nested run's name and start if it is new)."""

    status: str
    tags: dict[str, str]
    final_state: dict[str, Any]  # JSON data
    end_ms: int
    name: str | None = None
    start_ms: int | None = None


@define
class Stop:
    """End the campaign: every run's :class:`End` (the campaign's under ``PARENT``); the learning curve
    is drawn from the campaign's journal (``Start.run_dir``)."""

    runs: dict[Any, End]
    #: the directories of learners that started on their own and joined this run (``Start.run_dir`` is the first's)
    joined: list[str] = field(factory=list)


def http_retry_settings(budget: float) -> dict[str, str]:
    """MLflow's HTTP retry settings whose worst case (attempts x timeout + backoff sleeps) fits ``budget`` s
    (MLflow's own: 7 retries of 120 s). 30 s: 3 retries, 6 s timeout, sleeps 0, 2, 4 s; at least one 1 s attempt."""
    for retries, factor in ((3, 1), (2, 0), (1, 0)):
        sleeps = factor * (2**retries - 2)  # urllib3: no sleep before the first retry, then factor * 2**(n-1)
        timeout = int((budget - sleeps) // (retries + 1))
        if timeout >= 5:
            break
    else:
        retries, factor, timeout = 0, 0, max(1, int(budget))
    return {
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": str(retries),
        "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": str(factor),
        "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0",
        "MLFLOW_HTTP_REQUEST_TIMEOUT": str(timeout),
    }


def view_hint(tracking_uri: str, experiment_id: str | None, run_id: str | None) -> str:
    """How to look at a run: its address on a server, else the ``mlflow ui`` command and the address."""
    page = f"#/experiments/{experiment_id}/runs/{run_id}" if experiment_id and run_id else ""
    if tracking_uri.startswith(("http://", "https://")):
        return f"view it at {tracking_uri.rstrip('/')}/{page}"
    if tracking_uri.startswith("databricks"):
        return f"view run {run_id} in your Databricks workspace ({tracking_uri})"
    prefix = "sqlite:///"
    if tracking_uri.startswith(prefix) and not tracking_uri[len(prefix):].startswith(("/", ":memory:")):
        tracking_uri = prefix + os.path.abspath(tracking_uri[len(prefix):])  # works from any directory
    return f"view it with: mlflow ui --backend-store-uri {shlex.quote(tracking_uri)}  (then open http://127.0.0.1:5000/{page})"
