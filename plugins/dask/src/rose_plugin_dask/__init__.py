"""rose-plugin-dask: run ROSE tasks on a Dask cluster.

``engine = await rose.engine("dask", address="tcp://scheduler:8786")`` for an existing
cluster, or ``rose.engine("dask")`` for a ``LocalCluster`` of two worker processes on
this machine (``n_workers=...``). The backend class, for hand-built engines::

    from rose_plugin_dask import DaskBackend
"""

from __future__ import annotations

from typing import Any

__all__ = ["DaskBackend", "translate"]


def __getattr__(name: str) -> Any:
    # Lazy exports keep ``import rose_plugin_dask.plugin`` (the entry point) cheap.
    if name == "DaskBackend":
        from rose_plugin_dask.backend import DaskBackend

        return DaskBackend
    if name == "translate":
        from rose_plugin_dask.resources import translate

        return translate
    raise AttributeError(f"module 'rose_plugin_dask' has no attribute {name!r}")
