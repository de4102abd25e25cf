"""ROSE resources -> a RADICAL-Pilot ``TaskDescription`` (only keys RP accepts).

=================  ==========================================================
ROSE               RADICAL-Pilot task description
=================  ==========================================================
``ranks``          ``ranks`` (MPI processes; RP picks the MPI launcher)
``cores``          ``cores_per_rank``
``gpus``           ``gpus_per_rank``
``memory_mb``      ``mem_per_rank`` (MB)
``env``            ``environment`` (added to the pilot agent's environment)
``cwd``            ``pre_exec: ["cd <absolute cwd>"]``
=================  ==========================================================

``cores`` and ``gpus`` are per rank: with ``ranks=1`` (the default) per task. Every RP task
runs in its own sandbox directory under the pilot sandbox; a ``cwd`` (the learner's
working directory, or ``resources={"cwd": ...}``) makes the command start there instead,
which is what you want on a shared filesystem (``local.localhost``, the usual HPC
scratch). Without a shared filesystem, build the backend with ``shared_filesystem=False``:
it replaces that ``cd`` by staging the directory's files in and the task's new files out.
"""

from __future__ import annotations

import os
import shlex
from typing import Any

from rose.records import Resources

__all__ = ["BACKEND", "TASK_DESCRIPTION_KEYS", "translate"]

BACKEND = "radical"

#: every key ``translate`` may emit (all are RADICAL-Pilot TaskDescription keys)
TASK_DESCRIPTION_KEYS = ("ranks", "cores_per_rank", "gpus_per_rank", "mem_per_rank", "environment", "pre_exec")


def translate(task: str, resources: Resources, shell: bool) -> dict[str, Any]:
    """Build the RP task description. Whether the pilot can hold it is checked on submission."""
    description: dict[str, Any] = {"ranks": resources.ranks, "cores_per_rank": resources.cores}
    if resources.gpus:
        description["gpus_per_rank"] = resources.gpus
    if resources.memory_mb is not None:
        description["mem_per_rank"] = resources.memory_mb
    if resources.env:
        description["environment"] = {str(k): str(v) for k, v in resources.env.items()}
    if resources.cwd:
        description["pre_exec"] = [f"cd {shlex.quote(os.path.abspath(resources.cwd))}"]
    return description
