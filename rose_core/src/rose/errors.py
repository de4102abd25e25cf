"""Exceptions ROSE raises. Each message names what failed, the value and the fix."""

from __future__ import annotations

import errno
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rose.records import Resources

__all__ = [
    "CriterionOutputError",
    "EngineClosedError",
    "JournalError",
    "LearnerFailedError",
    "PluginConflictError",
    "PluginLoadError",
    "ResourceError",
    "RoseError",
    "TaskFailedError",
    "TaskTimeoutError",
    "UnknownNameError",
]


class RoseError(Exception):
    """Base class of every error ROSE raises on its own behalf."""


class PluginLoadError(RoseError):
    """A plugin failed to import (raised in strict mode, a warning otherwise)."""


class PluginConflictError(RoseError):
    """Two installed plugins provide the same name."""

    def __init__(self, kind: str, name: str, first: str, second: str) -> None:
        super().__init__(
            f"two plugins provide the {kind} {name!r}: {first} and {second}. "
            f"Uninstall one of them, or disable one with ROSE_DISABLE_PLUGINS=<entry point>."
        )
        self.kind, self.name, self.first, self.second = kind, name, first, second


class UnknownNameError(RoseError, LookupError):
    """A backend, tracker, metric, scheduler or policy name that no installed plugin provides."""

    def __init__(self, kind: str, name: str, available: Sequence[str]) -> None:
        import difflib

        close = difflib.get_close_matches(name, list(available), n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        listing = ", ".join(sorted(available)) or "none"
        kinds = kind[:-1] + "ies" if kind.endswith("y") else kind + "s"
        super().__init__(
            f"no {kind} named {name!r} is installed.{hint} Available {kinds}: {listing}. "
            f"Run `rose plugins` to see what each installed plugin provides."
        )
        self.kind, self.name, self.available = kind, name, tuple(available)


class ResourceError(RoseError, ValueError):
    """A task asked for resources its backend cannot provide."""

    def __init__(self, task: str, resources: Resources | Any, backend: str, why: str) -> None:
        super().__init__(
            f"task {task!r} asks for {resources!r}, which the {backend!r} backend cannot "
            f"provide: {why}. Change the task's resources or pick another backend."
        )
        self.task, self.resources, self.backend = task, resources, backend


class EngineClosedError(RoseError, RuntimeError):
    """A task was submitted to an engine that is shutting down or has shut down: it cannot run
    (before, such a task waited forever for a backend that no longer reported on it)."""

    def __init__(self, task: str) -> None:
        super().__init__(
            f"task {task!r} was submitted after its engine began to shut down (engine.shutdown(), or the "
            f"end of `async with rose.engine(...)`), so it cannot run: submit tasks before the shutdown, "
            f"or make a new engine with `await rose.engine(...)`"
        )
        self.task = task


class TaskFailedError(RoseError, RuntimeError):
    """A task failed: names the task, learner, iteration, command, exit code, stderr.

    Also a ``RuntimeError``, as a failed task was in ROSE 0.3, so ``except RuntimeError``
    written for 0.3 still catches it.
    """

    def __init__(
        self,
        *,
        task: str,
        learner: Any = None,
        iteration: int | None = None,
        command: str | None = None,
        exit_code: int | None = None,
        stderr: str | None = None,
        cause: BaseException | None = None,
        attempts: int = 1,
        stderr_path: str | None = None,
    ) -> None:
        where = f"task {task!r}"
        if learner is not None:
            where += f" of learner {learner}"
        if iteration is not None:
            where += f" at iteration {iteration}"
        parts = [f"{where} failed"]
        if attempts > 1:
            parts[0] += f" after {attempts} attempts"
        if command:
            parts.append(f"command: {command}")
        if exit_code is not None:
            parts.append(f"exit code: {exit_code}")
        tail, cut = stderr_tail(stderr)
        if tail:
            where = f"; all of it in {stderr_path}" if stderr_path else ""
            parts.append(f"stderr ({'its end' if cut else 'all of it'}{where}):\n{tail}")
        elif stderr_path:
            parts.append(f"stderr: {stderr_path}")
        elif cause is not None:
            parts.append(f"cause: {type(cause).__name__}: {cause}")
        super().__init__("\n  ".join(parts))
        self.task, self.learner, self.iteration = task, learner, iteration
        self.command, self.exit_code, self.stderr = command, exit_code, stderr
        self.attempts = attempts
        self.stderr_path = stderr_path


class TaskTimeoutError(TaskFailedError, TimeoutError):
    """A task ran past its ``timeout`` (seconds) and was cancelled."""


class CriterionOutputError(RoseError, ValueError):
    """A stop criterion produced something that is not a finite number."""

    def __init__(self, task: str, output: Any, why: str, command: str | None = None, where: str = "") -> None:
        shown = repr(output)
        if len(shown) > 500:
            shown = shown[:240] + " ... " + shown[-240:]
        msg = f"stop criterion {task!r}{where} {why}; it produced {shown}"
        if command:
            msg += f" (command: {command})"
        msg += (
            ". A criterion must return a number, a dict with 'metric_value', or (for an "
            "executable) print the number on its last non-empty line of stdout."
        )
        super().__init__(msg)
        self.task, self.output, self.command = task, output, command


class JournalError(RoseError, OSError):
    """The campaign journal (or another record of the campaign: a stored result, its
    directory) cannot be written: the campaign stops rather than run unrecorded."""

    def __init__(self, path: str, cause: OSError, *, what: str = "the campaign journal") -> None:
        if cause.errno in (errno.EMFILE, errno.ENFILE):
            fix = (f"this process may keep {open_file_limit()} files open (`ulimit -n`) and every "
                   "learner keeps its journal open: raise the limit (`ulimit -n`, up to `ulimit -Hn`) or "
                   "run fewer learners at once")
        elif cause.errno in (errno.ENOSPC, errno.EDQUOT):
            fix = "the disk (or your quota) is full: free disk space"
        elif cause.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            fix = ("the directory is read-only for this user: fix its permissions, or point ROSE_RUNS_DIR "
                   "(`rose run --runs-dir`) at a writable directory")
        else:
            fix = "free disk space or fix permissions"
        super().__init__(
            f"cannot write {what} {path}: {cause.strerror or cause}. Nothing more runs, so "
            f"nothing is lost: {fix}, then resume "
            f"(`start(resume=...)` or `rose run --resume`), or choose another directory (run_dir=..., "
            f"ROSE_RUNS_DIR)."
        )
        self.path = path
        self.errno = cause.errno


def open_file_limit() -> int:
    """How many files this process may keep open (the soft ``RLIMIT_NOFILE``, ``ulimit -n``)."""
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (ImportError, OSError, ValueError):  # pragma: no cover - not POSIX
        return 1024
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


class LearnerFailedError(RoseError):
    """One or more learners of a parallel run failed; ``failures`` maps id -> exception."""

    def __init__(self, failures: dict[Any, BaseException]) -> None:
        lines = [f"learner {lid} failed: {type(exc).__name__}: {exc}" for lid, exc in failures.items()]
        super().__init__(f"{len(failures)} learner(s) failed:\n  " + "\n  ".join(lines))
        self.failures = failures


#: a failed task's stderr shown in its error: at most this many of its last lines...
STDERR_TAIL_LINES = 40
#: ... and at most this many of its last characters (the whole of it goes to a file)
STDERR_TAIL_CHARS = 8 * 1024


def stderr_tail(text: str | None) -> tuple[str, bool]:
    """The end of a failed task's stderr as shown in its error (its last :data:`STDERR_TAIL_LINES`
    non-empty lines within its last :data:`STDERR_TAIL_CHARS` characters, indented), and
    whether anything was left out."""
    if not text:
        return "", False
    text = str(text).rstrip()
    end = text[-STDERR_TAIL_CHARS:]
    kept = [line for line in end.splitlines() if line.strip()]
    cut = len(end) < len(text) or len(kept) > STDERR_TAIL_LINES
    if len(end) < len(text) and kept:
        kept = kept[1:] or kept  # the first line of a cut may be the end of a longer line
    return "\n".join("    " + line for line in kept[-STDERR_TAIL_LINES:]), cut
