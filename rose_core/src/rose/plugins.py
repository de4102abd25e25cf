"""Plugin discovery and the typed registry: the only module touching pluggy and stevedore.

Plugins are modules registered under the entry point group ``rose.plugins``. stevedore
loads each one in isolation (a broken plugin becomes a warning, or an error in strict
mode), pluggy collects what their hooks return, and :func:`registry` exposes the result as
name -> record dictionaries per kind.

Environment variables:

* ``ROSE_DISABLE_PLUGINS=a,b`` skips the named entry points.
* ``ROSE_STRICT_PLUGINS=1`` raises :class:`~rose.errors.PluginLoadError` instead of warning.
"""

from __future__ import annotations

import logging
import os
import threading
import warnings
from collections.abc import Callable, Iterable, Mapping
from types import ModuleType
from typing import Any, TypeVar

import pluggy
from attrs import define, field

from rose import hookspecs
from rose.errors import PluginConflictError, PluginLoadError, UnknownNameError
from rose.records import (
    BackendSpec,
    CommandSpec,
    LearnerKindSpec,
    LearnerSpec,
    MetricSpec,
    PolicySpec,
    SchedulerSpec,
    TrackerSpec,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "PluginInfo",
    "Registry",
    "get_plugin_manager",
    "plugin_infos",
    "plugin_problem",
    "provider_of",
    "registry",
    "reset",
]

ENTRY_POINT_GROUP = "rose.plugins"
BUILTIN_NAME = "builtin"
KINDS = ("learners", "learner_kinds", "metrics", "schedulers", "trackers", "backends", "policies", "commands")

logger = logging.getLogger(__name__)
_T = TypeVar("_T")


@define
class PluginInfo:
    """One plugin as ``rose plugins`` shows it."""

    name: str
    distribution: str
    version: str
    status: str  # "active", "disabled" or "failed"
    reason: str = ""
    provides: dict[str, list[str]] = field(factory=dict)
    module: ModuleType | Any = field(default=None, repr=False)


@define
class Registry:
    """Name -> record for each kind, merged from every active plugin."""

    learners: dict[str, LearnerSpec] = field(factory=dict)
    learner_kinds: dict[str, LearnerKindSpec] = field(factory=dict)
    metrics: dict[str, MetricSpec] = field(factory=dict)
    schedulers: dict[str, SchedulerSpec] = field(factory=dict)
    trackers: dict[str, TrackerSpec] = field(factory=dict)
    backends: dict[str, BackendSpec] = field(factory=dict)
    policies: dict[str, PolicySpec] = field(factory=dict)
    commands: dict[str, CommandSpec] = field(factory=dict)

    def get(self, kind: str, name: str) -> Any:
        """The record ``name`` of ``kind`` (``"backend"``, ``"tracker"``...) or a clear error."""
        plural = "policies" if kind in ("policy", "policies") else kind if kind.endswith("s") else kind + "s"
        table: Mapping[str, Any] = getattr(self, plural)
        if name in table:
            return table[name]
        raise UnknownNameError("policy" if plural == "policies" else plural.rstrip("s"), name, list(table))


class _State:
    lock = threading.RLock()
    manager: pluggy.PluginManager | None = None
    infos: list[PluginInfo] = []
    registry: Registry | None = None


def _env_list(name: str) -> set[str]:
    return {item.strip() for item in os.environ.get(name, "").split(",") if item.strip()}


def strict_mode() -> bool:
    """True when ``ROSE_STRICT_PLUGINS`` is set to a true value."""
    return os.environ.get("ROSE_STRICT_PLUGINS", "").lower() in ("1", "true", "yes", "on")


def _distribution_of(entry_point: Any) -> tuple[str, str]:
    dist = getattr(entry_point, "dist", None)
    if dist is None:
        return "unknown", "?"
    return dist.metadata["Name"] or dist.name, dist.version


def _new_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    return pm


def _discover(pm: pluggy.PluginManager) -> list[PluginInfo]:
    """Load every enabled entry point of the group into ``pm``, rose-core's ``builtin`` first.

    importlib.metadata lists the entry points with their distributions; stevedore's
    NamedExtensionManager loads the enabled ones, each in isolation, and reports a plugin
    whose import raises through its failure callback.
    """
    from importlib.metadata import entry_points

    from stevedore import NamedExtensionManager

    disabled = _env_list("ROSE_DISABLE_PLUGINS") - {BUILTIN_NAME}  # the core's own records stay
    found: dict[str, PluginInfo] = {}
    # rose-core's own entry point first, so a plugin repeating a built-in name is the one named second
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: (e.name != BUILTIN_NAME, e.name)):
        if ep.name in found:  # the same distribution visible twice on sys.path
            continue
        dist, version = _distribution_of(ep)
        status = "disabled" if ep.name in disabled else "active"
        found[ep.name] = PluginInfo(ep.name, dist, version, status, "ROSE_DISABLE_PLUGINS" if status == "disabled" else "")

    def failed(_manager: Any, entry_point: Any, exc: BaseException) -> None:
        info = found[entry_point.name]
        reason = f"{type(exc).__name__}: {exc}"
        message = (
            f"ROSE plugin {info.name!r} (distribution {info.distribution} {info.version}) failed to "
            f"load: {reason}. Fix or reinstall it (pip install --force-reinstall "
            f"{info.distribution}), or skip it with ROSE_DISABLE_PLUGINS={info.name}."
        )
        if strict_mode():
            raise PluginLoadError(message) from exc
        warnings.warn(message, RuntimeWarning, stacklevel=2)
        logger.warning(message)
        info.status, info.reason = "failed", reason

    enabled = [name for name, info in found.items() if info.status == "active"]
    if enabled:
        manager = NamedExtensionManager(
            ENTRY_POINT_GROUP, names=enabled, name_order=True, on_load_failure_callback=failed
        )
        for extension in manager.extensions:
            info = found[extension.name]
            pm.register(extension.plugin, name=extension.name)
            info.module = extension.plugin
    if BUILTIN_NAME not in found or found[BUILTIN_NAME].module is None:
        raise PluginLoadError(
            f"rose-core's own entry point {BUILTIN_NAME!r} (group {ENTRY_POINT_GROUP}) is missing or broken: "
            f"reinstall rose-core (pip install --force-reinstall rose-core)"
        )
    return list(found.values())


def plugin_problem(message: str) -> None:
    """A plugin that does something wrong but not fatal: a warning (and a log line), or
    :class:`~rose.errors.PluginLoadError` in strict mode."""
    if strict_mode():
        raise PluginLoadError(message)
    warnings.warn(message, RuntimeWarning, stacklevel=3)
    logger.warning(message)


def _core_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rose-core")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


def _check_hook_names(pm: pluggy.PluginManager) -> None:
    """A plugin function marked ``@rose.hookimpl`` whose name is not a ROSE hook (a typo such as
    ``rose_tracker`` for ``rose_trackers``) is a warning naming the plugin and the function, an
    error in strict mode, never silently ignored."""
    known = sorted(name for name in dir(hookspecs) if name.startswith("rose_"))
    for name, caller in sorted(vars(pm.hook).items()):
        if name.startswith("_") or getattr(caller, "spec", None) is not None:
            continue
        for impl in caller.get_hookimpls():
            if getattr(impl, "optionalhook", False):
                continue
            plugin = pm.get_name(impl.plugin) or repr(impl.plugin)
            import difflib

            close = difflib.get_close_matches(name, known, n=1)
            message = (
                f"ROSE plugin {plugin!r} marks {name}() with @rose.hookimpl, but ROSE has no hook of that name"
                f"{f' (did you mean {close[0]}?)' if close else ''}; it is never called. Hooks: {', '.join(known)}."
            )
            plugin_problem(message)


def _build_registry(pm: pluggy.PluginManager, infos: list[PluginInfo]) -> Registry:
    _check_hook_names(pm)
    reg = Registry()
    for each in infos:  # rebuilt after a plugin is registered by hand: list what each provides once
        each.provides = {}
    by_module = {id(info.module): info for info in infos if info.module is not None}
    for kind in KINDS:
        table: dict[str, Any] = getattr(reg, kind)
        owners: dict[str, PluginInfo] = {}
        hook = getattr(pm.hook, f"rose_{kind}")
        for impl in hook.get_hookimpls():  # registration order
            info = by_module.get(id(impl.plugin))
            if info is None:  # registered by hand (tests): describe it from the manager
                pname = pm.get_name(impl.plugin) or repr(impl.plugin)
                info = PluginInfo(pname, pname, "", "active", module=impl.plugin)
                infos.append(info)
                by_module[id(impl.plugin)] = info
            try:
                records = impl.function() or ()
            except Exception as exc:
                message = f"plugin {info.name!r} ({info.distribution}) failed in rose_{kind}(): {exc!r}"
                if strict_mode():
                    raise PluginLoadError(message) from exc
                logger.warning(message)
                info.status, info.reason = "failed", f"rose_{kind}(): {type(exc).__name__}: {exc}"
                continue
            for record in records:
                if record.name in table:
                    first = owners[record.name]
                    raise PluginConflictError(
                        kind.rstrip("s"),
                        record.name,
                        f"{first.distribution} (entry point {first.name!r})",
                        f"{info.distribution} (entry point {info.name!r})",
                    )
                table[record.name] = record
                owners[record.name] = info
                info.provides.setdefault(kind, []).append(record.name)
    return reg


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, loading plugins on first use."""
    with _State.lock:
        if _State.manager is None:
            pm = _new_manager()
            _State.infos = _discover(pm)
            _State.manager = pm
        return _State.manager


def registry() -> Registry:
    """Everything the active plugins provide (built once, then cached)."""
    with _State.lock:
        if _State.registry is None:
            pm = get_plugin_manager()
            _State.registry = _build_registry(pm, _State.infos)
        return _State.registry


def plugin_infos() -> list[PluginInfo]:
    """Every discovered plugin with its status and what it provides."""
    registry()
    return list(_State.infos)


def reset(manager: pluggy.PluginManager | None = None, infos: Iterable[PluginInfo] = ()) -> None:
    """Forget loaded plugins (next access rediscovers), or install ``manager`` as is."""
    with _State.lock:
        _State.manager = manager
        _State.infos = list(infos)
        _State.registry = None


def invalidate() -> None:
    """Rebuild the registry on next access (after registering a plugin by hand)."""
    with _State.lock:
        _State.registry = None


def new_isolated_manager(include_builtin: bool = True) -> tuple[pluggy.PluginManager, list[PluginInfo]]:
    """A fresh manager with only the built-ins (for tests and embedding)."""
    from importlib.metadata import entry_points

    pm = _new_manager()
    infos: list[PluginInfo] = []
    if include_builtin:
        (entry_point,) = entry_points(group=ENTRY_POINT_GROUP, name=BUILTIN_NAME)
        builtin = entry_point.load()
        pm.register(builtin, name=BUILTIN_NAME)
        infos.append(PluginInfo(BUILTIN_NAME, "rose-core", _core_version(), "active", module=builtin))
    return pm, infos


def provider_of(kind: str, name: str) -> PluginInfo | None:
    """The plugin whose records of ``kind`` (``"commands"``, ``"backends"``...) include ``name``."""
    for info in plugin_infos():
        if name in info.provides.get(kind, ()):
            return info
    return None


def lookup(kind: str, name: str) -> Any:
    """Shortcut for ``registry().get(kind, name)``."""
    return registry().get(kind, name)


def lazy(import_path: str) -> Callable[[], Any]:
    """A factory importing ``"package.module:attribute"`` on first call.

    Plugins use it to keep their entry module cheap::

        LearnerSpec(name="X", factory=rose.plugins.lazy("my_plugin.learners:X"))
    """
    module_name, _, attribute = import_path.partition(":")
    if not attribute:
        raise ValueError(f"lazy() needs 'module:attribute', got {import_path!r}")

    loaded: list[Any] = []  # the object, once imported (translators are called for every task)

    def load() -> Any:
        if loaded:
            return loaded[0]
        import importlib

        obj: Any = importlib.import_module(module_name)
        for part in attribute.split("."):
            obj = getattr(obj, part)
        loaded.append(obj)
        return obj

    load.__qualname__ = load.__name__ = f"lazy({import_path})"
    return load


def lazy_call(import_path: str) -> Callable[..., Any]:
    """A factory importing ``"package.module:attribute"`` on first call and calling it.

    For records whose factory builds an instance from options (trackers, backends,
    schedulers)::

        TrackerSpec(name="x", factory=rose.plugins.lazy_call("my_plugin.tracker:XTracker"))
        # rose.tracker("x", option=1) -> XTracker(option=1)
    """
    load = lazy(import_path)

    def build(*args: Any, **kwargs: Any) -> Any:
        return load()(*args, **kwargs)

    build.__qualname__ = build.__name__ = f"lazy_call({import_path})"
    return build
