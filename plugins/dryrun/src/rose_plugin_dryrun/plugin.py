"""Entry point ``dryrun``: registers the ``dry-run`` backend (cheap to import)."""

from __future__ import annotations

from rose.hookspecs import hookimpl
from rose.plugins import lazy_call
from rose.records import BackendSpec


@hookimpl
def rose_backends() -> list[BackendSpec]:
    """The ``dry-run`` backend: the loop runs, no task does; a report says what would."""
    return [
        BackendSpec(
            name="dry-run",
            summary="runs the loop without executing tasks; reports each task, its inputs and command",
            factory=lazy_call("rose_plugin_dryrun.backend:create_backend"),
            translate=lazy_call("rose_plugin_dryrun.submission:translate"),
            backend_classes=("rose_plugin_dryrun.backend:DryRunBackend",),
        )
    ]
