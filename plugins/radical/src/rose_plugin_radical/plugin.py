"""Entry point ``radical``: registers the ``radical`` backend (RADICAL-Pilot is imported on use)."""

from __future__ import annotations

from rose.hookspecs import hookimpl
from rose.plugins import lazy_call
from rose.records import BackendSpec


@hookimpl
def rose_backends() -> list[BackendSpec]:
    """The ``radical`` backend: a RADICAL-Pilot pilot on an HPC machine (or this one)."""
    return [
        BackendSpec(
            name="radical",
            summary="RADICAL-Pilot: one pilot job on an HPC allocation runs every task (resource=...)",
            factory=lazy_call("rose_plugin_radical.backend:create_backend"),
            translate=lazy_call("rose_plugin_radical.resources:translate"),
            backend_classes=(
                "rose_plugin_radical.backend:RadicalExecutionBackend",
                "rhapsody.backends.execution.radical_pilot:RadicalExecutionBackend",
            ),
        )
    ]
