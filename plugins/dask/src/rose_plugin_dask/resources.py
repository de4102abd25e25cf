"""ROSE resources -> the ``dask`` backend's task description.

``shell``/``cwd``/``env`` are used by the worker-side runner (``env`` is *added* to the
worker's environment, so a remote worker keeps its own ``PATH``); ``resources`` goes to
``Client.submit`` as Dask worker resources: ``gpus=N`` becomes ``{"GPU": N}``, which only
workers started with ``--resources "GPU=..."`` offer (the backend checks when the task is
submitted). ``cores`` and ``memory_mb`` are checked against the workers when the task
is submitted (some worker must have that many threads, and a memory limit at least that
large, or no limit); they are not reserved: a worker thread runs one task at a time, so
start workers with ``--nthreads`` and ``--memory-limit`` to fit your tasks.
"""

from __future__ import annotations

import os
from typing import Any

from rose.errors import ResourceError
from rose.records import Resources

__all__ = ["BACKEND", "translate"]

BACKEND = "dask"


def translate(task: str, resources: Resources, shell: bool) -> dict[str, Any]:
    """Build the description; MPI ranks are refused (Dask has no MPI launcher)."""
    if resources.ranks > 1:
        raise ResourceError(
            task, resources, BACKEND,
            f"ranks={resources.ranks}: Dask workers run one process per task and have no MPI "
            "launcher; use the 'radical' backend for MPI tasks",
        )
    description: dict[str, Any] = {"shell": shell}
    if resources.cores > 1:
        description["cores"] = resources.cores
    if resources.memory_mb is not None:
        description["memory_mb"] = resources.memory_mb
    if resources.cwd:
        description["cwd"] = os.path.abspath(resources.cwd)
    if resources.env:
        description["env"] = {str(k): str(v) for k, v in resources.env.items()}
    if resources.gpus:
        description["resources"] = {"GPU": resources.gpus}
    return description
