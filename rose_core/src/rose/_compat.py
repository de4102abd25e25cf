"""ROSE 0.3 import paths: modules whose names resolve to the names' new homes.

``rose.al.active_learner``, ``rose.uq.uq_scorer``, ``rose.integrations.mlflow_tracker`` and
the other 0.3 module paths (all in :data:`rose.deprecations.OLD_MODULES`) are small modules
built with :func:`alias_module`: each name resolves on first access, learners through the
plugin registry (like ``rose.al``), core names from the core module that now holds them.
Importing such a module stays cheap; a name whose plugin is missing raises an ImportError
naming the distribution to install.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from rose.deprecations import OLD_MODULES, REMOVED_IN

__all__ = ["alias_module"]


def alias_module(module: str) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """``(__getattr__, __dir__, __all__)`` for the 0.3 module ``module`` (its entry in
    :data:`rose.deprecations.OLD_MODULES`)."""
    entry = OLD_MODULES[module]
    namespace, registry_names = entry.namespace, entry.registry
    core = dict(entry.core)
    plugin = dict(entry.plugin)
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
            f"module {module!r} has no attribute {name!r}; ROSE 0.3's {module} provided: {', '.join(names)} "
            f"(this path goes away in ROSE {REMOVED_IN})"
        )

    def __dir__() -> list[str]:
        return list(names)

    return __getattr__, __dir__, names
