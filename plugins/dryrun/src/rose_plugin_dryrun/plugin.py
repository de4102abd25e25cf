"""Entry point ``dryrun``: registers the ``dry-run`` backend (cheap to import)."""

from __future__ import annotations

from typing import Any

from rose.hookspecs import hookimpl
from rose.records import BackendSpec, Resources


def _create(**options: Any) -> Any:
    from rose_plugin_dryrun.backend import create_backend

    return create_backend(**options)


def _translate(task: str, resources: Resources, shell: bool) -> dict[str, Any]:
    from rose_plugin_dryrun.submission import translate

    return translate(task, resources, shell)


@hookimpl
def rose_backends() -> list[BackendSpec]:
    """The ``dry-run`` backend: the loop runs, no task does; a report says what would."""
    return [
        BackendSpec(
            name="dry-run",
            summary="runs the loop without executing tasks; reports each task, its inputs and command",
            factory=_create,
            translate=_translate,
            backend_classes=("rose_plugin_dryrun.backend:DryRunBackend",),
        )
    ]
