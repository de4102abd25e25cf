"""Where campaigns live: a new campaign's directory, and the one a resume continues (``resume=True``)."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from rose.names import dirname_for

if TYPE_CHECKING:
    from rose.learner import Learner

__all__ = ["new_run_dir", "resume_dir"]


def new_run_dir(name: str) -> str:
    """A directory for a new campaign of learner ``name``: ``<runs root>/<timestamp>-<name>`` (not created)."""
    from rose.engine import runs_root

    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = os.path.join(runs_root(), f"{stamp}-{dirname_for(name).lower()}")
    path, n = base, 1
    while os.path.exists(path):
        n += 1
        path = f"{base}-{n}"
    return path


def resume_dir(learner: Learner, resume: str | os.PathLike[str] | bool | None) -> str | None:
    """The campaign directory ``resume`` names for ``learner`` (None: none).

    ``True`` or ``"latest"`` (``rose run --resume latest``): the learner's own ``run_dir`` when
    it was given one, else the newest campaign of its learner type and tasks under the runs
    root (:func:`rose.runs.choose_campaign`, an error listing the candidates when none fits).
    """
    from rose.overrides import LATEST

    if resume is None or resume is False:
        return None
    if resume is True or resume == LATEST:
        if not learner._own_run_dir and learner._run_dir is not None:
            return learner._run_dir
        from rose.runs import choose_campaign

        return choose_campaign(type(learner).__name__, learner.task_kinds(), name=learner.name)
    return os.path.abspath(os.fspath(resume))
