"""Entry point ``radical``: registers the ``radical`` backend (RADICAL-Pilot is imported on use)."""

from __future__ import annotations

from typing import Any

from rose.hookspecs import hookimpl
from rose.records import BackendSpec, Resources


def _create(**options: Any) -> Any:
    from rose_plugin_radical.backend import create_backend

    return create_backend(**options)


def _translate(task: str, resources: Resources, shell: bool) -> dict[str, Any]:
    from rose_plugin_radical.resources import translate

    return translate(task, resources, shell)


@hookimpl
def rose_backends() -> list[BackendSpec]:
    """The ``radical`` backend: a RADICAL-Pilot pilot on an HPC machine (or this one)."""
    return [
        BackendSpec(
            name="radical",
            summary="RADICAL-Pilot: one pilot job on an HPC allocation runs every task (resource=...)",
            factory=_create,
            translate=_translate,
            backend_classes=(
                "rose_plugin_radical.backend:RadicalExecutionBackend",
                "rhapsody.backends.execution.radical_pilot:RadicalExecutionBackend",
            ),
        )
    ]
