"""ROSE 0.3 import paths: modules whose names resolve to the names' new homes.

``rose.al.active_learner``, ``rose.uq.uq_scorer``, ``rose.integrations.mlflow_tracker`` and
the other 0.3 module paths are small modules built with :func:`alias_module`: each name
resolves on first access, learners through the plugin registry (like ``rose.al``), core
names from the core module that now holds them. Importing such a module stays cheap; a
name whose plugin is missing raises an ImportError naming the ``rose-plugin-*`` to install.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["alias_module"]


def alias_module(
    module: str,
    *,
    namespace: str | None = None,
    registry_names: tuple[str, ...] = (),
    core: Mapping[str, str] | None = None,
    plugin: Mapping[str, tuple[str, str]] | None = None,
) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """``(__getattr__, __dir__, __all__)`` for the 0.3 module ``module``.

    ``registry_names`` resolve through the plugin registry in ``rose.<namespace>``;
    ``core`` maps names to the core module holding them (``{"TaskConfig": "rose.config"}``);
    ``plugin`` maps names to ``("module.path", "rose-plugin-name")`` for names that live in
    one plugin's module (the ImportError names the distribution to install).
    """
    core = dict(core or {})
    plugin = dict(plugin or {})
    names = sorted({*registry_names, *core, *plugin})

    def __getattr__(name: str) -> Any:
        if name in core:
            return getattr(importlib.import_module(core[name]), name)
        if name in plugin:
            where, distribution = plugin[name]
            try:
                home = importlib.import_module(where)
            except ImportError as exc:
                raise ImportError(
                    f"cannot import name {name!r} from {module!r}: it is provided by {distribution}, "
                    f"which is not installed (or failed to import: {exc}). Install it with "
                    f"`pip install {distribution}`.",
                    name=module,
                ) from exc
            return getattr(home, name)
        if name in registry_names and namespace is not None:
            from rose._shim import resolve

            return resolve(namespace, name)
        raise AttributeError(
            f"module {module!r} has no attribute {name!r}; ROSE 0.3's {module} provided: {', '.join(names)}"
        )

    def __dir__() -> list[str]:
        return list(names)

    return __getattr__, __dir__, names
