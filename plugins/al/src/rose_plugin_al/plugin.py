"""Entry point ``al``: registers the active-learning learners (cheap to import)."""

from __future__ import annotations

from rose.hookspecs import hookimpl
from rose.plugins import lazy
from rose.records import LearnerSpec


@hookimpl
def rose_learners() -> list[LearnerSpec]:
    """The active-learning learners, importable from ``rose.al``."""
    return [
        LearnerSpec(
            name="SequentialActiveLearner",
            summary="simulation -> training -> active learning -> criterion, one loop",
            factory=lazy("rose_plugin_al.sequential:SequentialActiveLearner"),
            namespaces=("al",),
        ),
    ]
