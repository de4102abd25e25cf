"""Entry point ``local``: registers the ``local`` backend (cheap to import)."""

from __future__ import annotations

from typing import Any

from rose.hookspecs import hookimpl
from rose.records import BackendSpec, Resources

BACKEND_CLASSES = (
    "rose_plugin_local.backend:LocalBackend",
    # rhapsody's backend honours cwd, env and shell=False the same way, so an engine
    # built by hand from it (as ROSE 0.3's examples do) gets the same translation.
    "rhapsody.backends.execution.concurrent:ConcurrentExecutionBackend",
)


def _create(**options: Any) -> Any:
    from rose_plugin_local.backend import create_backend

    return create_backend(**options)


def _translate(task: str, resources: Resources, shell: bool) -> dict[str, Any]:
    from rose_plugin_local.resources import translate

    return translate(task, resources, shell)


@hookimpl
def rose_backends() -> list[BackendSpec]:
    """The ``local`` backend: this machine's cores, threads or processes (the default)."""
    return [
        BackendSpec(
            name="local",
            summary="this machine: subprocesses without a shell, function tasks on threads or processes",
            factory=_create,
            translate=_translate,
            backend_classes=BACKEND_CLASSES,
        )
    ]
