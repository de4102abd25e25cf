"""Entry point ``dask``: registers the ``dask`` backend (cheap: Dask is imported on use)."""

from __future__ import annotations

from typing import Any

from rose.hookspecs import hookimpl
from rose.records import BackendSpec, Resources


def _create(**options: Any) -> Any:
    from rose_plugin_dask.backend import create_backend

    return create_backend(**options)


def _translate(task: str, resources: Resources, shell: bool) -> dict[str, Any]:
    from rose_plugin_dask.resources import translate

    return translate(task, resources, shell)


@hookimpl
def rose_backends() -> list[BackendSpec]:
    """The ``dask`` backend: an existing Dask cluster (``address=``) or a LocalCluster."""
    return [
        BackendSpec(
            name="dask",
            summary="a Dask distributed cluster (address=...) or a LocalCluster of worker processes",
            factory=_create,
            translate=_translate,
            backend_classes=(
                "rose_plugin_dask.backend:DaskBackend",
                "rhapsody.backends.execution.dask_parallel:DaskExecutionBackend",
            ),
        )
    ]
