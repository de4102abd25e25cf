"""Runs on the Dask workers: commands as process groups, function tasks with clear import errors.

Imported by the workers (so ``rose-plugin-dask`` must be installed in the workers'
environment, as with any function a Dask client sends). Only the standard library, plus
``distributed`` (present on every worker) where it says so.

* :func:`run_command` runs one executable task in its own process group, in the task's
  working directory (refusing with a clear message when this worker cannot see it), and
  kills the group when the task's future is cancelled or its client goes away (the
  scheduler then releases the task and the worker marks it cancelled).
* A command outlives neither its task nor its worker process: a watchdog process per worker
  process (:class:`rose.watchdog.Watchdog`, as the local backend has one per campaign) ends
  the command's group when the worker process dies, however (``kill -9`` of a campaign
  whose ``LocalCluster`` workers die with it, a worker crash). With ``spawn_topic``, each
  command's process is reported to the client as a Dask event (pid, group, start time,
  host), so the campaign journals it and a resume can end it should everything else fail.
* :func:`run_function` runs one function task sent as a pickled payload: it puts the
  campaign script's directory on ``sys.path`` (when this worker sees it) and turns a
  module that cannot be imported here into an error naming the module and the fix.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import signal
import subprocess
import sys
import threading
from typing import Any

__all__ = ["kill_command", "run_command", "run_coroutine", "run_function", "worker_name"]

_running: dict[str, subprocess.Popen[bytes]] = {}
_cancelled: dict[str, None] = {}  # cancelled before they started (bounded, oldest dropped)
_CANCELLED_KEPT = 4096
_lock = threading.Lock()
#: seconds between two checks that a running command's task is still wanted
POLL_INTERVAL = 0.5


def worker_name() -> str:
    """``name (address) on host`` of the Dask worker running this code (the host alone elsewhere)."""
    host = os.uname().nodename
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return f"host {host}"
    return f"{worker.name} ({worker.address}) on host {host}"


_watchdog: Any = None  # this worker process's rose.watchdog.Watchdog, started with its first command


def _watch() -> Any:
    """The watchdog of this worker process (started on first use)."""
    global _watchdog
    with _lock:
        if _watchdog is None:
            from rose.watchdog import Watchdog

            _watchdog = Watchdog(KILL_GRACE, owner=f"Dask worker {worker_name()}")
        return _watchdog


#: seconds between SIGTERM and SIGKILL when the watchdog ends the commands of a dead worker process
KILL_GRACE = 2.0


def _report_spawn(topic: str, key: str, pid: int) -> None:
    """Tell the client (a Dask event on ``topic``) which process runs task ``key``."""
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return
    try:
        from rose.processes import process_start_time

        worker.log_event(topic, {"key": key, "pid": pid, "pgid": pid, "start_time": process_start_time(pid),
                                 "host": os.uname().nodename, "worker": worker.address})
    except Exception:  # noqa: BLE001 - the journal entry is a second line of defence, never a reason to fail
        pass


def _task_abandoned(key: str) -> bool:
    """True when this worker no longer wants task ``key`` (cancelled, released, client gone)."""
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return False
    task = worker.state.tasks.get(key)
    return task is None or task.state in ("cancelled", "released", "forgotten")


def run_command(
    argv: list[str],
    uid: str,
    cwd: str | None = None,
    env: dict[str, str] | None = None,
    shell: bool = False,
    capture_dir: str | None = None,
    spawn_topic: str | None = None,
) -> tuple[str, str, int]:
    """Run ``argv`` in its own process group; return ``(stdout, stderr, exit code)``.

    ``uid`` is the task's Dask key. ``env`` adds to (not replaces) the worker's
    environment. With ``capture_dir`` the output goes to ``<uid>.stdout`` /
    ``<uid>.stderr`` there and their paths are returned. A command that cannot start
    returns exit code 127 (not found) or 126 (working directory missing, not executable).
    The worker process's watchdog ends the command if the worker process dies; with
    ``spawn_topic`` the process is reported to the client as a Dask event on that topic.
    """
    if cwd is not None and not os.path.isdir(cwd):
        return "", (
            f"working directory {cwd!r} is not visible on Dask worker {worker_name()}: ROSE runs each task "
            "in its learner's directory inside the campaign directory, so the workers must share that file "
            "system at the same path (start the campaign in a shared directory, or set ROSE_RUNS_DIR / "
            "rose run --runs-dir to one)"
        ), 126
    full_env = {**os.environ, **env} if env else None
    command: Any = " ".join(argv) if shell else argv
    with contextlib.ExitStack() as stack:
        out: Any = subprocess.PIPE
        err: Any = subprocess.PIPE
        if capture_dir:
            out_path = os.path.join(capture_dir, f"{uid}.stdout")
            err_path = os.path.join(capture_dir, f"{uid}.stderr")
            out = stack.enter_context(open(out_path, "wb"))
            err = stack.enter_context(open(err_path, "wb"))
        with _lock:
            if uid in _cancelled:
                del _cancelled[uid]
                return "", "cancelled before it started", -int(signal.SIGTERM)
            try:
                process = subprocess.Popen(
                    command, shell=shell, cwd=cwd, env=full_env, stdout=out, stderr=err, start_new_session=True
                )
            except FileNotFoundError:
                return "", f"command not found: {argv[0]!r} (on Dask worker {worker_name()})", 127
            except (PermissionError, NotADirectoryError) as exc:
                return "", f"cannot execute {argv[0]!r} on Dask worker {worker_name()}: {exc}", 126
            _running[uid] = process
        watchdog = _watch()
        watchdog.started(process.pid)
        if spawn_topic:
            _report_spawn(spawn_topic, uid, process.pid)
        try:
            stdout, stderr = _communicate_while_wanted(process, uid)
        finally:
            with _lock:
                _running.pop(uid, None)
            watchdog.ended(process.pid)
        if capture_dir:
            return out_path, err_path, process.returncode
        return stdout.decode(errors="replace"), stderr.decode(errors="replace"), process.returncode


def _communicate_while_wanted(process: subprocess.Popen[bytes], key: str) -> tuple[bytes, bytes]:
    """``process.communicate()``, killing the group if the task is abandoned meanwhile."""
    while True:
        try:
            stdout, stderr = process.communicate(timeout=POLL_INTERVAL)
            return stdout or b"", stderr or b""
        except subprocess.TimeoutExpired:
            if _task_abandoned(key):
                _stop_group(process)
                stdout, stderr = process.communicate()
                return stdout or b"", stderr or b""


def _stop_group(process: subprocess.Popen[bytes], grace: float = 2.0) -> None:
    _signal_group(process.pid, signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        pass
    _signal_group(process.pid, signal.SIGKILL)


def kill_command(uid: str, grace: float = 2.0) -> bool:
    """SIGTERM the process group of task ``uid`` on this worker, SIGKILL after ``grace`` s.

    Returns whether the task was running here. A task not started yet is remembered, so
    it does not start later. Does not block (the SIGKILL comes from a timer thread).
    """
    with _lock:
        process = _running.get(uid)
        if process is None:
            _cancelled[uid] = None
            while len(_cancelled) > _CANCELLED_KEPT:
                del _cancelled[next(iter(_cancelled))]
            return False
    _signal_group(process.pid, signal.SIGTERM)
    timer = threading.Timer(grace, _signal_group, (process.pid, signal.SIGKILL))
    timer.daemon = True
    timer.start()
    return True


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def run_function(payload: bytes, name: str, script_dir: str | None) -> Any:
    """Unpickle function task ``name`` and run it; ``script_dir`` goes on ``sys.path`` first.

    Runs in a worker thread (a coroutine function runs on that thread's event loop, see
    :func:`run_coroutine`), so a
    long computation does not block the worker's own event loop and heartbeats.

    The payload is ``cloudpickle.dumps((function, args, kwargs))`` made by the client. A
    module the function needs that is not importable on this worker raises
    :class:`ModuleNotFoundError` naming the module, the worker and the fix (Dask itself
    would only report a deserialization error, with the cause in the scheduler's log).
    """
    import pickle

    if script_dir and script_dir not in sys.path and os.path.isdir(script_dir):  # no stat once it is there
        sys.path.insert(0, script_dir)
    try:
        function, args, kwargs = pickle.loads(payload)
    except ModuleNotFoundError as exc:
        seen = "sees" if script_dir and os.path.isdir(script_dir) else "cannot see"
        raise ModuleNotFoundError(
            f"function task {name!r} needs the module {exc.name!r}, which Dask worker {worker_name()} cannot "
            f"import (No module named {exc.name!r}). The campaign script's directory {script_dir!r} is put on "
            f"the workers' sys.path, and this worker {seen} it. Fix: run the campaign from a directory the "
            f"workers share at the same path, or install {exc.name!r} in the workers' Python environment "
            "(pip install ... / PYTHONPATH=... dask worker ...)",
            name=exc.name,
        ) from None
    result = function(*args, **kwargs)
    if inspect.iscoroutine(result):
        result = run_coroutine(result)
    return result


_thread_loops = threading.local()


def run_coroutine(coroutine: Any) -> Any:
    """Run ``coroutine`` to its end on this thread's own event loop, kept between tasks.

    ``asyncio.run`` makes and closes a loop per call: measured 135 us of CPU per no-op
    coroutine, against 12 us for a loop kept per worker thread. Tasks the coroutine left
    running are cancelled when it ends, as ``asyncio.run`` does; the loop's task factory
    notes the tasks made on it, so finding them does not walk every task of the process
    (``asyncio.all_tasks`` does: the worker's own loop holds many).
    """
    import asyncio

    loop = getattr(_thread_loops, "loop", None)
    if loop is None or loop.is_closed():
        loop = _thread_loops.loop = asyncio.new_event_loop()
        made: list[asyncio.Task[Any]] = []
        _thread_loops.made = made

        def note(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
            task = asyncio.Task(coro, loop=loop, **kwargs)
            made.append(task)
            return task

        loop.set_task_factory(note)
    made = _thread_loops.made
    try:
        return loop.run_until_complete(coroutine)
    finally:
        left = [task for task in made if not task.done()]
        made.clear()
        if left:
            for task in left:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*left, return_exceptions=True))
            made.clear()
