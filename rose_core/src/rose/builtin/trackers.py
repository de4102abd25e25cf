"""Built-in trackers: ``console`` and ``jsonl``."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from typing import Any

from rose.state import IterationState, jsonable
from rose.tracking import PipelineManifest, TrackerBase

__all__ = ["ConsoleTracker", "JsonlTracker"]

logger = logging.getLogger("rose.progress")


class ConsoleTracker(TrackerBase):
    """Logs one line per iteration (logger ``rose.progress``)."""

    def on_start(self, manifest: PipelineManifest) -> None:
        """Log the campaign's learner type and criterion."""
        crit = manifest.criterion
        target = f"{crit.metric_name} {crit.operator} {crit.threshold}" if crit else "no criterion"
        logger.info("campaign %s started (%s)", manifest.learner_type, target)

    def on_iteration(self, state: IterationState) -> None:
        """Log iteration, learner and metric."""
        who = f"learner {state.learner_id} " if state.learner_id is not None else ""
        value = "-" if state.metric_value is None else f"{state.metric_value:.6g}"
        logger.info("%siteration %d: %s = %s", who, state.iteration, state.metric_name or "metric", value)

    def on_stop(self, final_state: IterationState | None, reason: str) -> None:
        """Log why the campaign ended."""
        logger.info("campaign stopped: %s", reason)


class JsonlTracker(TrackerBase):
    """Appends one JSON object per event to ``path`` (default ``rose-tracking.jsonl``)."""

    def __init__(self, path: str = "rose-tracking.jsonl") -> None:
        self.path = os.path.abspath(path)
        self._lock = threading.Lock()

    def _write(self, record: dict[str, Any]) -> None:
        record = {"time": time.time(), **record}
        with self._lock, open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(jsonable(record)) + "\n")

    def on_start(self, manifest: PipelineManifest) -> None:
        """Write the manifest."""
        self._write({"event": "start", "manifest": manifest.to_dict()})

    def on_iteration(self, state: IterationState) -> None:
        """Write the iteration state."""
        self._write({"event": "iteration", "state": state.to_dict()})

    def on_stop(self, final_state: IterationState | None, reason: str) -> None:
        """Write the stop reason and final state."""
        self._write({"event": "stop", "reason": reason, "final": final_state.to_dict() if final_state else None})
