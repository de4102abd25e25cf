"""Entry point ``clearml``: registers the ``clearml`` tracker (cheap to import; no ClearML import)."""

from __future__ import annotations

from typing import Any

from rose.hookspecs import hookimpl
from rose.records import TrackerSpec


def make_tracker(**options: Any) -> Any:
    """``rose.tracker("clearml", **options)``: a :class:`~rose_plugin_clearml.ClearMLTracker`."""
    from rose_plugin_clearml.tracker import ClearMLTracker

    return ClearMLTracker(**options)


@hookimpl
def rose_trackers() -> list[TrackerSpec]:
    """The ClearML tracker."""
    return [
        TrackerSpec(
            name="clearml",
            summary="ClearML tasks: hyperparameters, per-iteration scalars (one series per learner), final state",
            factory=make_tracker,
        )
    ]
