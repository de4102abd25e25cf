"""``rose.engine(name, **options)``: a ready radical.asyncflow ``WorkflowEngine``.

This is the one module that knows radical.asyncflow's internals (how an engine is created,
its signal handlers, how a task enters ``engine.components`` and reaches its backend);
everything else in ROSE talks to an engine through the functions here.

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
from collections.abc import Callable, Generator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rose import private
from rose.backend_helpers import RADICAL_FORK_WARNING as RADICAL_FORK_WARNING  # re-exported: plugins import
from rose.backend_helpers import Translate as Translate  # these from rose.engine
from rose.backend_helpers import backend_spec_for as backend_spec_for
from rose.backend_helpers import default_translate as default_translate
from rose.backend_helpers import quiet_asyncflow_shutdown, script_directory, silence_radical_fork_warning, translator_for
from rose.errors import EngineClosedError, JournalError
from rose.records import BackendSpec

if TYPE_CHECKING:
    import asyncio

__all__ = [
    "EngineHandle",
    "engine",
    "quiet_asyncflow_shutdown",
    "runs_root",
    "script_directory",
    "silence_radical_fork_warning",
    "submit_task",
    "translator_for",
]

logger = logging.getLogger(__name__)

#: backends log what users wait for (a pilot submitted, queued, active; a cluster's dashboard) at
#: INFO under ``rose.lifecycle.<backend>``: ``rose run`` prints it, the progress tracker shows it
LIFECYCLE_LOGGER = "rose.lifecycle"


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
        from rose.interrupts import exit_for_signal

        stop = exit_for_signal(exc[1] if len(exc) > 1 else None)  # SIGTERM outside a campaign: a clean exit too
        if stop is not None:
            raise stop from None

    async def _create(self) -> Any:
        from rose.overrides import engine_choice
        from rose.plugins import lookup

        name, options = engine_choice(self._name, self._options)  # `rose run --backend/--dry-run`
        spec: BackendSpec = lookup("backend", name)
        backend = spec.factory(**options)
        if inspect.isawaitable(backend):
            backend = await backend
        from radical.asyncflow import WorkflowEngine

        work_dir = os.path.abspath(self._work_dir or os.path.join(runs_root(), ".engines"))
        new_folders = _missing_folders(work_dir)
        try:
            private.make_dirs(work_dir)
        except OSError as exc:
            raise JournalError(str(exc.filename or work_dir), exc, what="the folder of campaigns") from exc
        saved = _python_signal_handlers()
        created = await WorkflowEngine.create(backend=backend, work_dir=work_dir)
        created._rose_backend_spec = spec
        _remove_folder_when_empty_at_shutdown(created, [os.path.join(work_dir, str(created.uid)), *new_folders])
        restore_default_signals(saved)
        logger.info("engine %s ready (backend %r)", created.uid, spec.name)
        return created


def _missing_folders(path: str) -> list[str]:
    """The folders ``os.makedirs(path)`` would create, deepest first."""
    missing = []
    while path and not os.path.exists(path):
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return missing


def _remove_folder_when_empty_at_shutdown(created: Any, folders: list[str]) -> None:
    """asyncflow makes ``{work_dir}/{uid}`` for every engine; remove it at shutdown if nothing used it,
    and the folders created for it (``runs/.engines``, ``runs``) if they are empty too.

    Without this, ``runs/.engines`` collects one empty folder per campaign, and a script whose
    learners all have a ``run_dir=`` elsewhere leaves an empty ``runs/`` behind. A folder that
    holds something (captured output, a dry-run report, campaigns) stays.
    """
    original = created.shutdown

    async def shutdown(*args: Any, **kwargs: Any) -> Any:
        try:
            return await original(*args, **kwargs)
        finally:
            for folder in folders:  # deepest first
                try:
                    os.rmdir(folder)  # only succeeds when empty
                except OSError:
                    break

    try:
        created.shutdown = shutdown
    except AttributeError:  # pragma: no cover - an engine class that forbids it keeps its folder
        logger.debug("cannot wrap %r.shutdown; %s stays", created, folders[0])


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
    a second one exits at once) and turns SIGTERM and SIGHUP (a closed terminal or SSH
    session) into the same clean stop as SIGTERM (what batch systems send on
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
        for sig, name in ((signal.SIGTERM, "SIGTERM"), (signal.SIGHUP, "SIGHUP")):  # preemption; terminal closed
            try:
                loop.add_signal_handler(sig, _cancel_for_signal, main, name)
            except (NotImplementedError, RuntimeError):  # pragma: no cover
                pass


def _cancel_for_signal(task: asyncio.Task[Any], name: str) -> None:
    from rose.deadline import note_termination

    if name == "SIGTERM":
        note_termination()  # at the allocation's end this stop is a `deadline` one (rose.deadline)
    logger.warning("%s received: cancelling running tasks and stopping the campaign", name)
    task.cancel(msg=name)


def submit_task(
    engine: Any,
    spec: Any,
    *,
    description: dict[str, Any],
    function: Callable[..., Any] | None = None,
    args: Sequence[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
    argv: list[str] | None = None,
    on_spawn: Callable[[Mapping[str, Any]], None] | None = None,
) -> asyncio.Future[Any]:
    """Hand one task with resolved arguments straight to the engine's backend.

    ROSE resolves every dependency itself, so asyncflow's registration task and its run
    loop (which sleeps 10 ms after each pass that submitted or finished something) would
    only add latency: measured 45 ms per iteration of four no-op tasks through it, 2.3 ms
    this way (benchmarks/, scenario 1). The engine still owns the backend: the task is
    entered in ``engine.components`` so the backend's state callbacks
    (``engine.task_callbacks``) resolve this future exactly as for asyncflow's own tasks,
    and ``engine.shutdown()`` cancels it. The entry is removed when the task ends, so a
    long campaign does not accumulate finished tasks. Cancelling the future (a timeout, a
    ``break``) cancels the task in the backend. A backend that starts a process for the task
    calls ``task["rose_on_spawn"]({"pid", "pgid", "start_time"})`` when it has one (from any
    thread), so the campaign can record it and end it after a crash.

    A backend with a method ``rose_start_task(task) -> bool`` is asked first: True means it
    started the task itself, without an asyncio task around it (the local plugin does so for
    function tasks on its threads, and for commands, started at once or queued for a core; the
    Dask and RADICAL-Pilot plugins send the tasks started in one loop turn together: one
    coroutine and one asyncio task less per task in flight),
    and reports its end through its state callback as usual; False takes the ordinary path.
    """
    closing = getattr(engine, "_shutdown_event", None)  # asyncflow's: set as its shutdown begins
    if closing is not None and closing.is_set():
        raise EngineClosedError(str(spec.name))
    if _Lazy.running_loop is None or _Lazy.next_uid is None:
        _Lazy.load()
    loop = _Lazy.running_loop()  # type: ignore[misc]
    uid = f"task.{_Lazy.next_uid()}"  # type: ignore[misc]
    future: asyncio.Future[Any] = _Lazy.future_class(loop=loop)
    executable = argv[0] if argv else None
    options = spec.engine_options
    task: dict[str, Any] = {
        "uid": uid,
        "name": spec.name,
        "function": function,
        "args": tuple(args),
        "kwargs": dict(kwargs or {}),
        "executable": executable,
        "arguments": list(argv[1:]) if argv else [],
        "prompt": None,
        "is_service": False,
        "task_backend_specific_kwargs": description,
        "target_backend": options.get("backend") if options else None,
        "capture_stdio": bool(options.get("capture_stdio", False)) if options else False,
        "workflow_id": None,
        "_tel_executable": executable or spec.name,
        "_tel_task_type": "executable" if argv else "function",
        "metadata": _NO_METADATA,
    }
    if on_spawn is not None:
        task["rose_on_spawn"] = on_spawn
    future.task = task  # type: ignore[attr-defined]  # exit code and stderr are read from here
    future.state = "PENDING"  # type: ignore[attr-defined]  # what asyncflow's handlers update
    engine.components[uid] = {"type": "task", "future": future, "description": task}
    backend = engine._backends.get(task["target_backend"]) if task["target_backend"] else engine.backend
    if backend is None:
        engine.components.pop(uid, None)
        raise ValueError(
            f"task {spec.name!r} asks for backend {task['target_backend']!r}, which this engine does not have"
        )
    settlement = _Settlement.of(engine, backend)
    if settlement is not None:
        settlement.futures[uid] = future
    future.engine, future.backend, future.settlement = engine, backend, settlement  # type: ignore[attr-defined]
    if settlement is None:  # asyncflow settles it: forget the task when it is done
        future.add_done_callback(_finished)
    if _starts_tasks_itself(backend):
        try:
            started = backend.rose_start_task(task)
        except Exception as exc:  # noqa: BLE001 - the task's failure, reported through its future
            _forget(future)
            future.set_exception(exc)
            return future
        if started:
            return future  # the backend runs it and reports its end through its state callback
    if _submits_like_asyncflow_local(backend):
        # what LocalExecutionBackend.submit_tasks does, without a task around it that only
        # creates the task that runs it (one asyncio task and one loop pass less per task)
        backend.tasks[uid] = task
        task["future"] = loop.create_task(_handled(backend, task, future))
    else:
        loop.create_task(backend.submit_tasks([task])).add_done_callback(_Submission(future).failed)
    return future


#: the metadata of every task ROSE submits: no dependencies or files for asyncflow to stage (ROSE
#: resolves them itself); one shared, read-only value, not three empty lists per task in flight
_NO_METADATA: dict[str, Any] = {"dependencies": (), "input_files": (), "output_files": ()}

_TASK_FUTURE: list[type] = []


def _task_future_class() -> type:
    """The future class of submitted tasks (built on first use: ``import rose`` does not import asyncio).

    It keeps what asyncflow and ROSE set on a task's future (``task``, the task's dict, and
    ``state``; the engine, backend and settlement its end is reported to) in slots: no
    attribute dict and no helper object per task in flight (scenario 7).
    """
    if not _TASK_FUTURE:
        import asyncio

        class TaskFuture(asyncio.Future):  # type: ignore[type-arg]
            __slots__ = ("backend", "engine", "settlement", "state", "task")

            def cancel(self, msg: Any = None) -> bool:
                """Cancel the future, and the task in its backend (no done callback per task)."""
                if not super().cancel(msg=msg):
                    return False
                _cancelled(self)
                return True

        _TASK_FUTURE.append(TaskFuture)
    return _TASK_FUTURE[0]


async def _handled(backend: Any, task: dict[str, Any], future: asyncio.Future[Any]) -> None:
    """Run asyncflow's task handler; an error before it settled the task fails the task's future."""
    try:
        await backend._handle_task(task)
    except Exception as exc:  # noqa: BLE001 - handed to the task's future (asyncflow logged it)
        if not future.done():
            _forget(future)
            future.set_exception(exc)


def _forget(future: Any) -> None:
    """Forget a task whose future ROSE settles itself (not through the settlement)."""
    uid = future.task["uid"]
    if future.settlement is not None:
        future.settlement.futures.pop(uid, None)
    future.engine.components.pop(uid, None)


def _finished(done: Any) -> None:
    """A task asyncflow settled is done: forget it (its cancellation is seen by ``cancel``)."""
    if not done.cancelled():
        done.engine.components.pop(done.task["uid"], None)


def _cancelled(future: Any) -> None:
    """A submitted task's future was cancelled (a timeout, a ``break``): cancel it in the backend."""
    uid = future.task["uid"]
    if future.settlement is not None:
        future.settlement.futures.pop(uid, None)
    future.get_loop().create_task(_cancel_in_backend(future.engine, future.backend, uid))


async def _cancel_in_backend(engine: Any, backend: Any, uid: str) -> None:
    try:
        await backend.cancel_task(uid)
    finally:
        engine.components.pop(uid, None)


class _Submission:
    """Fails a task's future when its backend's submission (or task handler) raised before
    settling it."""

    __slots__ = ("future",)

    def __init__(self, future: asyncio.Future[Any]) -> None:
        self.future = future

    def failed(self, done: asyncio.Task[Any]) -> None:
        """The submission ended: pass its exception on to the task's future, if it has one."""
        if not done.cancelled() and done.exception() is not None and not self.future.done():
            _forget(self.future)
            self.future.set_exception(done.exception())  # type: ignore[arg-type]


_LOCAL_SUBMIT: dict[type, bool] = {}
_STARTS_ITSELF: dict[type, bool] = {}


def _starts_tasks_itself(backend: Any) -> bool:
    """Whether ``backend`` has ``rose_start_task`` (see :func:`submit_task`), per backend class."""
    kind = type(backend)
    known = _STARTS_ITSELF.get(kind)
    if known is None:
        known = _STARTS_ITSELF[kind] = callable(getattr(kind, "rose_start_task", None))
    return known


class _Lazy:
    """What :func:`submit_task` calls on every task, imported on first use (``import rose`` imports
    neither asyncio nor asyncflow), then kept: no import statement per task."""

    running_loop: Callable[[], Any] | None = None
    next_uid: Callable[[], str] | None = None
    future_class: type = object

    @classmethod
    def load(cls) -> None:
        """Import them."""
        import asyncio

        from radical.asyncflow.utils import get_next_uid  # asyncflow's counter: unique beside its own tasks

        cls.running_loop, cls.next_uid, cls.future_class = asyncio.get_running_loop, get_next_uid, _task_future_class()


def _submits_like_asyncflow_local(backend: Any) -> bool:
    """Whether ``backend`` keeps asyncflow's LocalExecutionBackend.submit_tasks unchanged."""
    kind = type(backend)
    known = _LOCAL_SUBMIT.get(kind)
    if known is None:
        from radical.asyncflow import LocalExecutionBackend

        known = _LOCAL_SUBMIT[kind] = issubclass(kind, LocalExecutionBackend) and (
            kind.submit_tasks is LocalExecutionBackend.submit_tasks
        )
    return known


class _Settlement:
    """Settles the futures of ROSE's tasks on one backend without asyncflow's dispatcher.

    asyncflow's ``engine.task_callbacks`` checks its arguments with typeguard and formats a
    log line on every state change: measured 85 us per task, a third of the engine's cost
    per no-op function task (benchmarks/, scenario 3). When the backend calls that method
    from its ``_callback_func`` on the event loop (asyncflow's local and no-op backends, the
    plugins built on them, and ROSE's RADICAL-Pilot backend, which hands states over from
    RP's threads to the loop first), ROSE settles its own tasks' futures itself, exactly as
    asyncflow would (result, exception, cancellation, ``future.state``, the running state
    included), and passes everything else on: other states, tasks ROSE did not submit.
    Engines with telemetry on are left as they are (asyncflow's callback emits its events).
    """

    def __init__(self, engine: Any, callback: Callable[..., None]) -> None:
        self.engine = engine
        self.futures: dict[str, asyncio.Future[Any]] = {}
        self._callback = callback
        states = engine.task_states_map
        self._done, self._failed, self._canceled = states.DONE, states.FAILED, states.CANCELED
        self._running = states.RUNNING

    @classmethod
    def of(cls, engine: Any, backend: Any) -> _Settlement | None:
        """The backend's settlement (installed on first use), or None where it does not apply."""
        settlement: _Settlement | None = getattr(backend, "_rose_settlement", None)
        if settlement is not None or hasattr(backend, "_rose_settlement"):
            return settlement if settlement is not None and settlement.engine is engine else None
        callback = getattr(backend, "_callback_func", None)
        direct = getattr(callback, "__self__", None) is engine and getattr(callback, "__name__", "") == "task_callbacks"
        if direct and getattr(engine, "_telemetry", None) is None:
            settlement = cls(engine, callback)  # type: ignore[arg-type]
            backend._callback_func = settlement.state_changed
        backend._rose_settlement = settlement
        return settlement

    def state_changed(self, task: Any, state: str, *args: Any, **kwargs: Any) -> None:
        """The backend's callback: settle ROSE's task, or hand the call to asyncflow."""
        future = self.futures.get(task.get("uid", "")) if isinstance(task, dict) and not args and not kwargs else None
        if future is not None and state == self._running:
            future.state = "RUNNING"  # type: ignore[attr-defined]  # all asyncflow does without telemetry
            return
        if future is None or state not in (self._done, self._failed, self._canceled):
            self._callback(task, state, *args, **kwargs)
            return
        if future.done():
            return
        if state == self._canceled:
            future.cancel()
            future.state = "CANCELLED"  # type: ignore[attr-defined]
            return
        uid = task["uid"]
        del self.futures[uid]  # settled here: forgotten here (no done callback per task)
        self.engine.components.pop(uid, None)
        if state == self._done:
            future.set_result(task.get("return_value") if task.get("function") else task.get("stdout"))
            future.state = "DONE"  # type: ignore[attr-defined]
        else:
            error = task.get("exception") or task.get("stderr") or "failed with unknown error"
            future.set_exception(error if isinstance(error, BaseException) else RuntimeError(str(error)))
            future.state = "FAILED"  # type: ignore[attr-defined]
