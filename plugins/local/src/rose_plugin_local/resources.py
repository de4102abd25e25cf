"""What this machine can give a task, and ROSE resources -> the local task description.

The description the ``local`` backend reads (any other key is ignored):

``shell``
    ``False`` (ROSE always asks for an argv run without a shell; the core turns
    ``shell=True`` tasks into ``/bin/sh -c ...`` itself).
``cwd``
    working directory of the process.
``env``
    the complete environment of the process: the task's variables merged over
    ``os.environ`` at submission.
``cores``
    slots the task occupies out of the backend's ``max_workers``.
``gpus``
    GPUs the task needs; the backend hands out device ids through ``CUDA_VISIBLE_DEVICES``.
"""

from __future__ import annotations

import glob
import os
import re
from typing import Any

from rose.errors import ResourceError
from rose.records import Resources

__all__ = ["BACKEND", "available_gpus", "total_memory_mb", "translate"]

BACKEND = "local"


def available_gpus() -> list[str]:
    """GPU ids a local task may use: ``CUDA_VISIBLE_DEVICES`` if set, else ``/dev/nvidiaN``.

    An empty ``CUDA_VISIBLE_DEVICES`` (or ``-1``) means no GPU, as CUDA reads it.
    """
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        ids = [part.strip() for part in visible.split(",") if part.strip()]
        return [] if ids in ([], ["-1"]) else ids
    devices = [os.path.basename(path) for path in glob.glob("/dev/nvidia[0-9]*")]
    numbers = sorted(int(m.group(1)) for d in devices if (m := re.fullmatch(r"nvidia(\d+)", d)))
    return [str(n) for n in numbers]


def total_memory_mb() -> int | None:
    """Physical memory of this machine in MiB (None where the OS does not say)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1024 * 1024))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return None


def translate(task: str, resources: Resources, shell: bool) -> dict[str, Any]:
    """ROSE :class:`~rose.records.Resources` -> the ``local`` backend's task description.

    Raises :class:`~rose.errors.ResourceError` for what this machine cannot give: MPI
    ranks (no launcher is used locally), more cores than the machine has, more GPUs
    than are visible, more memory than is installed.
    """
    if resources.ranks > 1:
        raise ResourceError(
            task, resources, BACKEND,
            f"ranks={resources.ranks}: local tasks are plain processes started without an MPI "
            "launcher; use the 'radical' backend for MPI tasks, or put `mpiexec -n N ...` in the "
            "command and ask for cores instead",
        )
    if resources.cores > 1 and resources.cores > (cpus := os.cpu_count() or 1):  # cpu_count reads /sys: 14 us
        raise ResourceError(task, resources, BACKEND, f"cores={resources.cores}, but this machine has {cpus}")
    if resources.gpus:
        gpus = available_gpus()
        if resources.gpus > len(gpus):
            raise ResourceError(
                task, resources, BACKEND,
                f"gpus={resources.gpus}, but {len(gpus)} GPU(s) are visible here "
                "(from CUDA_VISIBLE_DEVICES or /dev/nvidia*)",
            )
    if resources.memory_mb is not None:
        total = total_memory_mb()
        if total is not None and resources.memory_mb > total:
            raise ResourceError(
                task, resources, BACKEND, f"memory_mb={resources.memory_mb}, but this machine has {total} MiB"
            )
    description: dict[str, Any] = {"shell": shell, "cores": resources.cores}
    if resources.gpus:
        description["gpus"] = resources.gpus
    if resources.cwd:
        description["cwd"] = os.path.abspath(resources.cwd)
    if resources.env:
        description["env"] = {**os.environ, **{str(k): str(v) for k, v in resources.env.items()}}
    return description
