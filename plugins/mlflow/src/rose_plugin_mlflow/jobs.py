"""What the tracker sends to the MLflow writer process: picklable records, MLflow's limits.

Only the standard library and attrs are imported here: the writer process loads this module
before MLflow, and the tracker side never imports MLflow at all.
"""

from __future__ import annotations

import time
from typing import Any

from attrs import define, field

__all__ = [
    "PARENT", "MAX_KEY", "MAX_PARAM_VALUE", "MAX_TAG_VALUE", "MAX_METRICS_PER_BATCH", "MAX_PARAMS_TAGS_PER_BATCH",
    "Start", "Log", "Child", "Stop", "Flush", "clip", "now_ms",
]

#: run key of the campaign's own run (the parent run when learners have ids)
PARENT = "<campaign>"

# MLflow's limits (mlflow.utils.validation): key length, value lengths, batch sizes.
MAX_KEY = 250
MAX_PARAM_VALUE = 6000
MAX_TAG_VALUE = 8000
MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_TAGS_PER_BATCH = 100


def now_ms() -> int:
    """Wall-clock milliseconds, as MLflow timestamps are."""
    return int(time.time() * 1000)


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending in ``...`` when cut."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


@define
class Start:
    """Open a campaign: the store to use, the experiment and the campaign's run.

    ``environ`` and ``cwd`` are the campaign process's at start: the writer process uses them
    so that ``MLFLOW_*`` settings and relative store paths mean what they mean to the script.
    """

    experiment_name: str
    tracking_uri: str
    artifact_location: str | None
    log_artifacts: bool
    run_name: str
    params: dict[str, str]
    tags: dict[str, str]
    manifest_json: str
    start_ms: int
    environ: dict[str, str]
    cwd: str
    log_level: int


@define
class Log:
    """Metrics, parameters and tags for one run (``run`` is ``PARENT`` or a learner id)."""

    run: Any
    metrics: dict[tuple[str, int], tuple[float, int]] = field(factory=dict)  # (key, step) -> (value, ms)
    params: dict[str, str] = field(factory=dict)
    tags: dict[str, str] = field(factory=dict)

    def merge(self, other: Log) -> None:
        """Add ``other``'s data; a parameter keeps its first value (MLflow never changes one)."""
        self.metrics.update(other.metrics)
        for key, value in other.params.items():
            self.params.setdefault(key, value)
        self.tags.update(other.tags)


@define
class Child:
    """How one learner's nested run ends."""

    status: str
    tags: dict[str, str]
    final_json: str


@define
class Stop:
    """End the campaign: tags, plot and final state, then the runs' status; acknowledged."""

    status: str
    tags: dict[str, str]
    final_json: str
    children: dict[Any, Child]
    curves: dict[str, list[tuple[int, float]]]
    metric_name: str
    threshold: float | None
    title: str
    end_ms: int
    token: int


@define
class Flush:
    """Acknowledge once everything sent before it is written."""

    token: int
