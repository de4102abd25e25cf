"""rose-plugin-thompson: a learning policy as a plugin (``from rose.al import ThompsonSampling``)."""

from __future__ import annotations

import rose
from rose.plugins import lazy
from rose.records import LearnerSpec


@rose.hookimpl
def rose_learners() -> list[LearnerSpec]:
    """Provide the ``ThompsonSampling`` learner in ``rose.al`` (imported on first use)."""
    return [
        LearnerSpec(
            name="ThompsonSampling",
            summary="picks candidates by Thompson sampling from a Beta posterior of their success rates",
            factory=lazy("rose_plugin_thompson.learner:ThompsonSampling"),
            namespaces=("al",),
        )
    ]
