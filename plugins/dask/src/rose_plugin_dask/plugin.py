"""Entry point ``dask``: registers the ``dask`` backend (cheap: Dask is imported on use)."""

from __future__ import annotations

from rose.hookspecs import hookimpl
from rose.plugins import lazy_call
from rose.records import BackendSpec


@hookimpl
def rose_backends() -> list[BackendSpec]:
    """The ``dask`` backend: an existing Dask cluster (``address=``) or a LocalCluster."""
    return [
        BackendSpec(
            name="dask",
            summary="a Dask distributed cluster (address=...) or a LocalCluster of worker processes",
            factory=lazy_call("rose_plugin_dask.backend:create_backend"),
            translate=lazy_call("rose_plugin_dask.resources:translate"),
            backend_classes=(
                "rose_plugin_dask.backend:DaskBackend",
                "rhapsody.backends.execution.dask_parallel:DaskExecutionBackend",
            ),
        )
    ]
