"""Import shims: ``rose.al``, ``rose.rl``, ``rose.uq`` resolve names via the plugin registry."""

from __future__ import annotations

from typing import Any

from rose.deprecations import PROVIDERS


def names_in(namespace: str) -> list[str]:
    """Every name the installed plugins export into ``rose.<namespace>``."""
    from rose.plugins import registry

    return sorted(n for n, spec in registry().learners.items() if namespace in spec.namespaces)


def resolve(namespace: str, name: str) -> Any:
    """Return ``rose.<namespace>.<name>`` from the registry or raise a helpful ImportError."""
    if name.startswith("__"):
        raise AttributeError(name)
    from rose.plugins import registry

    spec = registry().learners.get(name)
    if spec is not None and namespace in spec.namespaces:
        return spec.factory()
    available = names_in(namespace)
    provider = PROVIDERS.get(namespace, "the plugin that provides it")
    if available:
        hint = f"rose.{namespace} provides: {', '.join(available)}."
    else:
        hint = f"No installed plugin provides rose.{namespace}: install it with `pip install {provider}`."
    raise ImportError(
        f"cannot import name {name!r} from 'rose.{namespace}'. {hint} "
        f"Run `rose plugins` to see what is installed.",
        name=f"rose.{namespace}",
    )
