"""rose-plugin-local: the default ROSE backend, tasks on this machine (threads or processes).

``engine = await rose.engine("local")`` (or ``rose.engine("local", max_workers=4,
executor="process")``). The backend class is importable for hand-built engines::

    from radical.asyncflow import WorkflowEngine
    from rose_plugin_local import LocalBackend

    engine = await WorkflowEngine.create(backend=await LocalBackend(max_workers=4))
"""

from __future__ import annotations

from typing import Any

__all__ = ["LocalBackend", "available_gpus", "translate"]


def __getattr__(name: str) -> Any:
    # Lazy exports keep ``import rose_plugin_local.plugin`` (the entry point) cheap.
    if name == "LocalBackend":
        from rose_plugin_local.backend import LocalBackend

        return LocalBackend
    if name in ("translate", "available_gpus"):
        from rose_plugin_local import resources

        return getattr(resources, name)
    raise AttributeError(f"module 'rose_plugin_local' has no attribute {name!r}")
