"""Where campaigns live: a new campaign's directory (the one a resume continues: :func:`rose.launch.resume_dir`)."""

from __future__ import annotations

import os
import time

from rose.names import dirname_for

__all__ = ["new_run_dir"]


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
