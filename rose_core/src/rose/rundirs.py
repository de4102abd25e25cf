"""Where campaigns live: a new campaign's directory, and the newest one of a learner (``resume=True``)."""

from __future__ import annotations

import os
import time

from rose.names import dirname_for

__all__ = ["latest_run_dir", "new_run_dir"]


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


def latest_run_dir(name: str) -> str:
    """The newest campaign directory of learner ``name`` under the runs root."""
    from rose.engine import runs_root

    root = runs_root()
    suffix = f"-{dirname_for(name).lower()}"
    candidates = sorted(
        entry.path for entry in os.scandir(root) if entry.is_dir() and suffix in entry.name
    ) if os.path.isdir(root) else []
    if not candidates:
        raise FileNotFoundError(f"cannot resume: no campaign of {name} under {root}")
    return candidates[-1]
