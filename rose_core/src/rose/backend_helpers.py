"""What backend plugins and learners use beside the engine: resource translators, quiet radical logs.

:func:`translator_for` gives the resource translator of an engine's backend (its plugin's, or a
conservative default); the other helpers are for backend plugins (radical's fork warning,
asyncflow's shutdown message, the campaign script's directory). :mod:`rose.engine` re-exports
them all, where plugins import them from.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

from rose.errors import ResourceError
from rose.records import BackendSpec, Resources

__all__ = [
    "RADICAL_FORK_WARNING",
    "Translate",
    "backend_spec_for",
    "default_translate",
    "quiet_asyncflow_shutdown",
    "script_directory",
    "silence_radical_fork_warning",
    "translator_for",
]

Translate = Callable[[str, Resources, bool], dict[str, Any]]


def _class_names(obj: Any) -> set[str]:
    return {f"{cls.__module__}:{cls.__qualname__}" for cls in type(obj).__mro__}


def backend_spec_for(engine: Any) -> BackendSpec | None:
    """The plugin record describing ``engine``'s backend, or None if unknown."""
    spec = getattr(engine, "_rose_backend_spec", None)
    if spec is not None:
        return spec  # type: ignore[no-any-return]
    backend = getattr(engine, "backend", None)
    if backend is None:
        return None
    from rose.plugins import registry

    names = _class_names(backend)
    for candidate in registry().backends.values():
        if names.intersection(candidate.backend_classes):
            try:
                engine._rose_backend_spec = candidate
            except AttributeError:  # pragma: no cover - exotic engine objects
                pass
            return candidate
    return None


def translator_for(engine: Any) -> Translate:
    """The resource translator for ``engine`` (its plugin's, or a conservative default)."""
    spec = backend_spec_for(engine)
    if spec is not None and spec.translate is not None:
        return spec.translate
    backend = getattr(engine, "backend", None)
    label = type(backend).__name__ if backend is not None else "unknown"
    return lambda task, resources, shell: default_translate(task, resources, shell, label)


def default_translate(task: str, resources: Resources, shell: bool, backend: str) -> dict[str, Any]:
    """For a backend no plugin describes: local processes, no GPUs or MPI ranks."""
    if resources.gpus or resources.ranks > 1:
        raise ResourceError(
            task, resources, backend, "no installed ROSE plugin describes this backend, so GPUs "
            "and MPI ranks cannot be placed; build the engine with rose.engine(name)"
        )
    description: dict[str, Any] = {"shell": shell}
    if resources.cwd:
        description["cwd"] = resources.cwd
    if resources.env:
        description["env"] = {**os.environ, **resources.env}
    return description


# -- helpers for backend plugins ------------------------------------------------------------

#: the message radical.utils warns with when logging was configured before it was imported
RADICAL_FORK_WARNING = "Import `radical` modules before `logging`"


def silence_radical_fork_warning() -> None:
    """Hide radical.utils' "Import `radical` modules before `logging`" warning.

    radical.utils (imported by rhapsody-py and RADICAL-Pilot) patches ``logging`` to be
    fork-safe either way; it only warns when the application configured logging first,
    which every ``rose run`` and most scripts do. Backend plugins call this before
    importing radical modules, so the warning does not reach users at the default level.
    """
    import re
    import warnings

    warnings.filterwarnings("ignore", message=re.escape(RADICAL_FORK_WARNING), category=UserWarning)


def script_directory() -> str | None:
    """The campaign script's directory, for backends that run function tasks elsewhere.

    ``__main__.__file__``'s directory (``python workflow.py`` and ``rose run workflow.py``
    both set it), else ``sys.path[0]``; None when neither names a directory (an
    interactive session). Remote backends put it on ``sys.path`` where function tasks
    run, so a function can use the script's sibling modules as it does locally.
    """
    import sys

    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    if main_file:
        return os.path.dirname(os.path.abspath(str(main_file)))
    first = sys.path[0] if sys.path else ""
    return os.path.abspath(first) if first else None


class _DropMessages:
    """A logging filter that drops records whose message starts with one of ``prefixes``."""

    def __init__(self, *prefixes: str) -> None:
        self.prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefixes)


_ASYNCFLOW_SHUTDOWN = _DropMessages("Internal components shutdown cancelled")


def quiet_asyncflow_shutdown() -> None:
    """Hide asyncflow's "Internal components shutdown cancelled" warning.

    ``WorkflowEngine.shutdown()`` cancels its own run loop and then logs, at WARNING, that
    awaiting it was cancelled: every normal end of an engine would print it. Backend
    plugins call this when they build a backend (idempotent).
    """
    target = logging.getLogger("radical.asyncflow.workflow_manager")
    if _ASYNCFLOW_SHUTDOWN not in target.filters:
        target.addFilter(_ASYNCFLOW_SHUTDOWN)
