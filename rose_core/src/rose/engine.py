"""``rose.engine(name, **options)``: a ready radical.asyncflow ``WorkflowEngine``.

``await rose.engine("local")`` builds the named backend from its plugin and wraps it in a
WorkflowEngine; ``async with rose.engine("local") as engine:`` also shuts it down. An
engine a user built by hand (``await WorkflowEngine.create(backend)``) works with every
learner too: the backend's plugin is found from the backend's class.
"""

from __future__ import annotations

import inspect
import logging
import os
import signal
import threading
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

from rose.errors import ResourceError

if TYPE_CHECKING:
    import asyncio
from rose.records import BackendSpec, Resources

__all__ = ["EngineHandle", "engine", "runs_root", "translator_for"]

logger = logging.getLogger(__name__)

Translate = Callable[[str, Resources, bool], dict[str, Any]]


def runs_root() -> str:
    """Where campaigns keep their directories: ``$ROSE_RUNS_DIR`` or ``./runs``."""
    return os.path.abspath(os.environ.get("ROSE_RUNS_DIR", "runs"))


class EngineHandle:
    """What ``rose.engine(...)`` returns: await it, or use it with ``async with``."""

    def __init__(self, name: str, work_dir: str | None, options: dict[str, Any]) -> None:
        self._name, self._work_dir, self._options = name, work_dir, options
        self._engine: Any = None

    def __await__(self) -> Generator[Any, None, Any]:
        return self._create().__await__()

    async def __aenter__(self) -> Any:
        self._engine = await self._create()
        return self._engine

    async def __aexit__(self, *exc: Any) -> None:
        if self._engine is not None:
            await self._engine.shutdown()

    async def _create(self) -> Any:
        from rose.overrides import engine_choice
        from rose.plugins import lookup

        name, options = engine_choice(self._name, self._options)  # `rose run --backend/--dry-run`
        spec: BackendSpec = lookup("backend", name)
        backend = spec.factory(**options)
        if inspect.isawaitable(backend):
            backend = await backend
        from radical.asyncflow import WorkflowEngine

        work_dir = self._work_dir or os.path.join(runs_root(), ".engines")
        os.makedirs(work_dir, exist_ok=True)
        saved = _python_signal_handlers()
        created = await WorkflowEngine.create(backend=backend, work_dir=work_dir)
        created._rose_backend_spec = spec
        restore_default_signals(saved)
        logger.info("engine %s ready (backend %r)", created.uid, spec.name)
        return created


def engine(name: str = "local", *, work_dir: str | None = None, **options: Any) -> EngineHandle:
    """A WorkflowEngine on the backend plugin ``name`` (``local``, ``dry-run``, ...).

    ``options`` go to the backend's factory (for example ``max_workers=4`` for local,
    ``resource="local.localhost", runtime=30`` for radical). ``work_dir`` is where
    asyncflow keeps its per-engine folder (default: ``runs/.engines``).
    """
    return EngineHandle(name, work_dir, options)


_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _python_signal_handlers() -> dict[int, Any]:
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {sig: signal.getsignal(sig) for sig in _SIGNALS}


def restore_default_signals(saved: dict[int, Any] | None = None) -> None:
    """Undo asyncflow's SIGINT/SIGTERM/SIGHUP handlers so Ctrl-C reaches the campaign.

    asyncflow shuts the engine down on a signal and leaves the learner waiting on
    cancelled futures. ROSE instead restores the handlers that were there before (so
    asyncio.run's Ctrl-C handling applies: the first Ctrl-C cancels the campaign cleanly,
    a second one exits at once) and turns SIGTERM (what batch systems send on
    preemption) into the same clean cancellation of the main task.
    """
    import asyncio

    if threading.current_thread() is not threading.main_thread():
        return
    loop = asyncio.get_running_loop()
    for sig in _SIGNALS:
        try:
            loop.remove_signal_handler(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # pragma: no cover
            pass
        previous = (saved or {}).get(sig)
        if previous is not None:
            try:
                signal.signal(sig, previous)
            except (TypeError, ValueError, OSError):  # pragma: no cover
                pass
    main = asyncio.current_task()
    if main is not None:
        try:
            loop.add_signal_handler(signal.SIGTERM, _cancel_for_signal, main, "SIGTERM")
        except (NotImplementedError, RuntimeError):  # pragma: no cover
            pass


def _cancel_for_signal(task: asyncio.Task[Any], name: str) -> None:
    logger.warning("%s received: cancelling running tasks and stopping the campaign", name)
    task.cancel(msg=name)


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
