"""rose-plugin-radical: run ROSE tasks as RADICAL-Pilot tasks on HPC machines.

``engine = await rose.engine("radical", resource="ornl.frontier", project="ABC123",
queue="batch", runtime=60, cores=56, gpus=8)``, or, as in the reference documents::

    from radical.asyncflow import WorkflowEngine
    from rose_plugin_radical import RadicalExecutionBackend

    backend = await RadicalExecutionBackend({"runtime": 30, "resource": "local.localhost"})
    engine = await WorkflowEngine.create(backend)
"""

from __future__ import annotations

from typing import Any

__all__ = ["RadicalExecutionBackend", "translate"]


def __getattr__(name: str) -> Any:
    # Lazy exports: importing RADICAL-Pilot takes about a second.
    if name == "RadicalExecutionBackend":
        from rose_plugin_radical.backend import RadicalExecutionBackend

        return RadicalExecutionBackend
    if name == "translate":
        from rose_plugin_radical.resources import translate

        return translate
    raise AttributeError(f"module 'rose_plugin_radical' has no attribute {name!r}")
