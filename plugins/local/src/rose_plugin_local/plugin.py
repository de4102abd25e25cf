"""Entry point ``local``: registers the ``local`` backend (cheap to import)."""

from __future__ import annotations

from rose.hookspecs import hookimpl
from rose.plugins import lazy_call
from rose.records import BackendSpec

BACKEND_CLASSES = (
    "rose_plugin_local.backend:LocalBackend",
    # rhapsody's backend honours cwd, env and shell=False the same way, so an engine
    # built by hand from it (as ROSE 0.3's examples do) gets the same translation.
    "rhapsody.backends.execution.concurrent:ConcurrentExecutionBackend",
)


@hookimpl
def rose_backends() -> list[BackendSpec]:
    """The ``local`` backend: this machine's cores, threads or processes (the default)."""
    return [
        BackendSpec(
            name="local",
            summary="this machine: subprocesses without a shell, function tasks on threads or processes",
            factory=lazy_call("rose_plugin_local.backend:create_backend"),
            translate=lazy_call("rose_plugin_local.resources:translate"),
            backend_classes=BACKEND_CLASSES,
        )
    ]
