"""rose-plugin-committee: a learning policy as a plugin (``from rose.al import QueryByCommittee``)."""

from __future__ import annotations

import rose
from rose.plugins import lazy
from rose.records import LearnerSpec


@rose.hookimpl
def rose_learners() -> list[LearnerSpec]:
    """Provide the ``QueryByCommittee`` learner in ``rose.al`` (imported on first use)."""
    return [
        LearnerSpec(
            name="QueryByCommittee",
            summary="trains a committee of models and labels where they disagree most",
            factory=lazy("rose_plugin_committee.learner:QueryByCommittee"),
            namespaces=("al",),
        )
    ]
