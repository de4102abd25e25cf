"""Registered tasks and how one task is executed on a radical.asyncflow engine.

Dependencies are resolved by the learner (it awaits upstream results and passes the
values), so every submission here has resolved arguments and never waits on
asyncflow's polling dependency futures; :func:`rose.engine.submit_task` hands each task
to the engine's backend.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import os
import re
import shlex
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextvars import ContextVar
from typing import Any

from attrs import define, field

from rose import private
from rose.engine import submit_task
from rose.errors import (
    STDERR_TAIL_CHARS,
    EngineClosedError,
    JournalError,
    ResourceError,
    TaskFailedError,
    TaskTimeoutError,
)
from rose.records import Resources

__all__ = [
    "TaskKind",
    "ENGINE_OPTIONS",
    "TASK_OPTIONS",
    "CriterionSpec",
    "Submission",
    "TaskContext",
    "TaskSpec",
    "current_submission",
    "execute",
]

logger = logging.getLogger(__name__)

#: decorator keywords passed through to radical.asyncflow's task decorators
ENGINE_OPTIONS = ("service", "backend", "capture_stdio")
#: every keyword a task decorator accepts
TASK_OPTIONS = (
    "as_executable",
    "log_params",
    "resources",
    "shell",
    "retries",
    "retry_backoff",
    "timeout",
    "name",
    "task_description",
    *ENGINE_OPTIONS,
)


@define(kw_only=True)
class TaskSpec:
    """A task registered on a learner with a decorator such as ``@learner.training_task``."""

    kind: str
    name: str
    func: Callable[..., Awaitable[Any]]
    as_executable: bool = True
    log_params: dict[str, Any] = field(factory=dict)
    resources: Resources = field(factory=Resources)
    shell: bool = False
    retries: int = 0
    retry_backoff: float = 1.0
    timeout: float | None = None
    engine_options: dict[str, Any] = field(factory=dict)

    @classmethod
    def build(cls, kind: str, func: Any, options: Mapping[str, Any], **extra: Any) -> TaskSpec:
        """Validate decorator options and build the spec (errors name the task)."""
        label = f"{kind} task {getattr(func, '__name__', func)!r}"
        if not callable(func):
            raise TypeError(f"{label}: expected an async function, got {func!r}")
        if not inspect.iscoroutinefunction(func):
            raise TypeError(
                f"{label} must be defined with `async def` (ROSE awaits it); "
                f"write `async def {getattr(func, '__name__', 'task')}(*args, **kwargs): ...`"
            )
        unknown = sorted(set(options) - set(TASK_OPTIONS))
        if unknown:
            raise TypeError(
                f"{label}: unknown option(s) {unknown}; valid options: {', '.join(TASK_OPTIONS)}. "
                f"Per-task resources go in resources={{'cores': ..., 'gpus': ...}}."
            )
        retries = options.get("retries", 0)
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise ValueError(f"{label}: retries must be a whole number >= 0 (how often to retry), got {retries!r}")
        timeout = _seconds(label, "timeout", options.get("timeout"), allow_none=True)
        backoff = _seconds(label, "retry_backoff", options.get("retry_backoff", 1.0), allow_zero=True)
        try:
            resources = Resources.coerce(options.get("resources"))
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{label}: {exc}") from None
        shell = bool(options.get("shell", False)) or _shell_from_description(label, options.get("task_description"))
        return cls(
            kind=kind,
            name=str(options.get("name") or kind),
            func=func,
            as_executable=bool(options.get("as_executable", True)),
            log_params=dict(options.get("log_params") or {}),
            resources=resources,
            shell=shell,
            retries=retries,
            retry_backoff=backoff if backoff is not None else 1.0,
            timeout=timeout,
            engine_options={k: options[k] for k in ENGINE_OPTIONS if k in options},
            **extra,
        )


def _shell_from_description(label: str, description: Any) -> bool:
    """ROSE 0.3's ``task_description={"shell": True}``: honoured; any other key is an error, never ignored."""
    if description is None:
        return False
    if not isinstance(description, Mapping):
        raise TypeError(f"{label}: task_description must be a dict such as {{'shell': True}}, got {description!r}")
    unknown = sorted(set(description) - {"shell"})
    if unknown:
        raise TypeError(
            f"{label}: task_description key(s) {unknown} are not passed to backends by ROSE; give per-task "
            f"resources as resources={{'cores': ..., 'gpus': ..., 'ranks': ..., 'memory_mb': ..., 'env': {{...}}, "
            f"'cwd': ...}} and a shell as shell=True"
        )
    return bool(description.get("shell", False))


def _seconds(label: str, option: str, value: Any, *, allow_none: bool = False, allow_zero: bool = False) -> float | None:
    """A number of seconds, or a clear error naming the task, the option, the value and the fix."""
    import math

    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise TypeError(f"{label}: {option} must be a number of seconds such as {option}=10, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{label}: {option} must be a {'' if allow_zero else 'positive '}number of seconds, got {value!r}")
    return float(value)


@define(kw_only=True)
class CriterionSpec(TaskSpec):
    """The stop criterion task: its metric, threshold and (resolved) operator."""

    metric_name: str
    threshold: float
    operator: str


@define(kw_only=True)
class TaskContext:
    """Where a task runs: for error messages, the journal and per-learner isolation."""

    learner: Any = None
    iteration: int | None = None
    cwd: str | None = None
    on_attempt: Callable[[dict[str, Any]], None] | None = None
    on_event: Callable[[dict[str, Any]], None] | None = None
    on_spawn: Callable[[Mapping[str, Any]], None] | None = None
    #: the campaign directory (the learner's): a failed task's whole stderr is written to
    #: ``<log_dir>/failed/`` (:data:`FAILED_DIR`) and its error shows the end
    log_dir: str | None = None


@define(kw_only=True, frozen=True)
class Submission:
    """The task being handed to the engine right now (see :func:`current_submission`)."""

    spec: TaskSpec
    context: TaskContext
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(factory=dict)
    argv: list[str] | None = None


_CURRENT: ContextVar[Submission | None] = ContextVar("rose_current_submission", default=None)


def current_submission() -> Submission | None:
    """The task ROSE is submitting, for a backend's ``translate`` or ``submit_tasks``.

    Set while the task's description is translated and the task handed to the engine, so
    a backend (the dry-run report, say) can see the learner, iteration, task kind and
    inputs without asking users for them.
    """
    return _CURRENT.get()


def command_line(spec: TaskSpec, produced: Any) -> list[str]:
    """Turn what an executable task returned into an argv list (no shell unless asked)."""
    if isinstance(produced, str):
        if not produced.strip():
            raise ValueError(f"executable task {spec.name!r} returned an empty command")
        if spec.shell:
            return ["/bin/sh", "-c", produced]
        return shlex.split(produced)
    if isinstance(produced, Sequence) and not isinstance(produced, (bytes, bytearray)):
        argv = [str(part) for part in produced]
        if not argv:
            raise ValueError(f"executable task {spec.name!r} returned an empty argv list")
        if spec.shell:
            return ["/bin/sh", "-c", shlex.join(argv)]
        return argv
    raise TypeError(
        f"executable task {spec.name!r} must return a command string or an argv list, "
        f"got {produced!r}; for a Python function task use as_executable=False"
    )


async def execute(
    engine: Any,
    spec: TaskSpec,
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    context: TaskContext,
    translate: Callable[[str, Resources, bool], dict[str, Any]],
) -> Any:
    """Run ``spec`` once (plus retries) on ``engine`` and return its result.

    Executable tasks return their stdout; function tasks their return value. A failing
    executable raises :class:`TaskFailedError` (exit code, command, stderr tail); a
    failing function re-raises its own exception with a note naming the task.
    """
    attempts = 1 + spec.retries
    for attempt in range(1, attempts + 1):
        started = time.monotonic()
        command: str | None = None
        if context.on_event is not None:
            _notify(context, spec, attempt, "running", 0.0)
        try:
            if spec.as_executable:
                argv = command_line(spec, await spec.func(*args, **kwargs))
                command = shlex.join(argv)
                future = _submit_executable(engine, spec, argv, args, kwargs, context, translate)
            else:
                future = _submit_function(engine, spec, args, kwargs, context, translate)
            if spec.timeout is not None:
                try:
                    result = await asyncio.wait_for(future, spec.timeout)
                except asyncio.TimeoutError:
                    raise TaskTimeoutError(
                        task=spec.name,
                        learner=context.learner,
                        iteration=context.iteration,
                        command=command,
                        cause=TimeoutError(f"no result after {spec.timeout} s (timeout={spec.timeout})"),
                    ) from None
            else:
                result = await future
        except (asyncio.CancelledError, ResourceError, EngineClosedError):
            raise
        except Exception as exc:
            error = _describe_failure(spec, exc, command, context, attempt, locals().get("future"))
            _report(context, spec, attempt, "failed", started, error=str(error))
            if attempt < attempts:
                delay = spec.retry_backoff * 2 ** (attempt - 1)
                logger.warning(
                    "task %r of learner %s (iteration %s) failed, retry %d/%d in %.1f s: %s",
                    spec.name, context.learner, context.iteration, attempt, spec.retries, delay,
                    str(error).splitlines()[0],
                )
                await asyncio.sleep(delay)
                continue
            if error is exc:
                raise
            if isinstance(error, TaskFailedError) and len(str(exc)) > STDERR_TAIL_CHARS:
                raise error from None  # its cause is the whole stderr again: in error.stderr_path
            raise error from exc
        _report(context, spec, attempt, "done", started, command=command, result=result)
        return result
    raise AssertionError("unreachable")  # pragma: no cover


def _submit_executable(
    engine: Any,
    spec: TaskSpec,
    argv: list[str],
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    context: TaskContext,
    translate: Callable[[str, Resources, bool], dict[str, Any]],
) -> Any:
    token = _CURRENT.set(Submission(spec=spec, context=context, args=tuple(args), kwargs=_as_dict(kwargs), argv=argv))
    try:
        description = translate(spec.name, _with_cwd(spec.resources, context), False)
        return submit_task(engine, spec, argv=argv, description=description, on_spawn=context.on_spawn)
    finally:
        _CURRENT.reset(token)


def _submit_function(
    engine: Any,
    spec: TaskSpec,
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    context: TaskContext,
    translate: Callable[[str, Resources, bool], dict[str, Any]],
) -> Any:
    token = _CURRENT.set(Submission(spec=spec, context=context, args=tuple(args), kwargs=_as_dict(kwargs)))
    try:
        description = translate(spec.name, spec.resources, False)
        description.pop("shell", None)
        return submit_task(engine, spec, function=spec.func, args=args, kwargs=kwargs, description=description)
    finally:
        _CURRENT.reset(token)


def _as_dict(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """``kwargs`` as a dict, without a copy when it is one (it lives as long as the task)."""
    return kwargs if isinstance(kwargs, dict) else dict(kwargs)


def _with_cwd(resources: Resources, context: TaskContext) -> Resources:
    if resources.cwd is None and context.cwd is not None:
        from attrs import evolve

        return evolve(resources, cwd=context.cwd)
    return resources


def _describe_failure(
    spec: TaskSpec, exc: Exception, command: str | None, context: TaskContext, attempt: int, future: Any
) -> Exception:
    if isinstance(exc, TaskFailedError):
        return exc
    if not spec.as_executable:
        note = f"in function task {spec.name!r} of learner {context.learner} at iteration {context.iteration}"
        if attempt > 1:
            note += f" (attempt {attempt})"
        if hasattr(exc, "add_note"):
            exc.add_note(note)
        return exc
    record = getattr(future, "task", None) or {}
    exit_code = record.get("exit_code") if isinstance(record, dict) else None
    stderr = record.get("stderr") if isinstance(record, dict) else None
    if stderr is None:
        stderr = str(exc)
    return TaskFailedError(
        task=spec.name,
        learner=context.learner,
        iteration=context.iteration,
        command=command,
        exit_code=exit_code,
        stderr=stderr,
        cause=exc,
        attempts=attempt,
        stderr_path=_keep_stderr(stderr, spec, context, attempt),
    )


#: the folder of a campaign directory that keeps the whole stderr of each failed task
FAILED_DIR = "failed"


def _keep_stderr(stderr: str, spec: TaskSpec, context: TaskContext, attempt: int) -> str | None:
    """Write a failed task's whole ``stderr`` to ``<log_dir>/failed/`` and return the file's
    path (None: no campaign directory, nothing to keep, or it cannot be written: logged)."""
    if context.log_dir is None or not stderr:
        return None
    safe = re.sub(r"[^\w.-]", "_", spec.name)
    name = f"{safe}-iteration-{context.iteration}-attempt-{attempt}-{uuid.uuid4().hex[:8]}.stderr"
    path = os.path.join(context.log_dir, FAILED_DIR, name)
    try:
        private.make_dirs(os.path.dirname(path))
        with open(path, "w", encoding="utf-8", errors="replace", opener=private.opener()) as handle:
            handle.write(stderr)
    except OSError as exc:
        logger.warning("could not keep the stderr of task %r in %s: %s", spec.name, path, exc)
        return None
    return path


def _notify(context: TaskContext, spec: TaskSpec, attempt: int, status: str, seconds: float) -> None:
    if context.on_event is None:
        return
    event = {"task": spec.name, "kind": spec.kind, "attempt": attempt, "status": status, "seconds": seconds}
    try:
        context.on_event(event)
    except Exception:
        logger.warning("could not report task %r to trackers", spec.name, exc_info=True)


def _report(context: TaskContext, spec: TaskSpec, attempt: int, status: str, started: float, **extra: Any) -> None:
    seconds = round(time.monotonic() - started, 6)
    if context.on_event is not None:
        _notify(context, spec, attempt, status, seconds)
    if context.on_attempt is None:
        return
    record = {
        "task": spec.name,
        "kind": spec.kind,
        "attempt": attempt,
        "status": status,
        "seconds": seconds,
        **extra,
    }
    try:
        context.on_attempt(record)
    except JournalError:
        raise  # an unrecorded campaign must not go on
    except Exception:
        logger.warning("could not record task %r", spec.name, exc_info=True)


class TaskKind:
    """A task decorator on a learner class: ``simulation_task = TaskKind("simulation")``.

    ``@learner.simulation_task`` (bare) or ``@learner.simulation_task(as_executable=False,
    resources={"gpus": 1}, log_params={...}, retries=2, timeout=600)`` registers a task.
    With ``named=True`` several tasks of the kind can be registered, each with
    ``name=...`` (e.g. ``@learner.<kind>_task(name="env_1")``).
    """

    def __init__(self, kind: str, *, named: bool = False) -> None:
        self.kind = kind
        self.named = named

    def __set_name__(self, owner: type, attribute: str) -> None:
        self.attribute = attribute

    def __get__(self, obj: Any, owner: type | None = None) -> Callable[..., Any]:
        if obj is None:
            return self  # type: ignore[return-value]
        return functools.partial(self.decorate, obj)

    def decorate(self, learner: Any, func: Any = None, /, **options: Any) -> Callable[..., Any]:
        """``@learner.<kind>_task`` with or without options: build the spec, ``learner.add_task`` it."""
        kind, named = self.kind, self.named
        if func is not None and not callable(func):
            raise TypeError(f"@{kind}_task takes keyword options only, got {func!r}")

        def register(fn: Any) -> Any:
            spec = TaskSpec.build(kind, fn, options)
            if not named:
                spec.name = kind
            else:
                if not options.get("name"):
                    spec.name = getattr(fn, "__name__", kind)
                from rose.names import check_plain_name

                check_plain_name(spec.name, f"{kind} task")
                if spec.name in learner.tasks:
                    raise ValueError(
                        f"task name {spec.name!r} is already used by a {learner.tasks[spec.name].kind} task of "
                        f"{learner.name}: give each {kind} task its own name=..."
                    )
            return learner.add_task(spec, fn)

        return register(func) if func is not None else register
