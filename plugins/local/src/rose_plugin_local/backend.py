"""``LocalBackend``: radical.asyncflow's local backend, made safe for campaigns.

Built on :class:`radical.asyncflow.LocalExecutionBackend` (function tasks on a thread or
process pool, asyncflow's callbacks and cancellation hooks). What it changes, and why:

* **argv without a shell.** Commands run with ``create_subprocess_exec`` unless the task
  description says ``shell=True`` (asyncflow's own default is a shell, which loses the
  quoting of ``echo 'a;b'``).
* **cwd and env per task**, as the ``local`` translator puts them in the description.
* **No orphans.** Every command starts in its own process group; when the task is
  cancelled (a ``timeout``, a ``break`` out of the learner loop, Ctrl-C, engine shutdown)
  the whole group gets SIGTERM, then SIGKILL after ``kill_grace`` seconds.
* **Tasks die with their campaign.** A small watchdog process (``python -I``, its own
  session, deaf to SIGINT/SIGHUP/SIGTERM; :mod:`rose.watchdog`) learns each
  task's process group through a pipe; when the campaign process dies, however (``kill
  -9`` included), the pipe closes and the watchdog ends the groups still running (SIGTERM,
  SIGKILL after ``kill_grace``). No ``preexec_fn``: it would force ``fork()`` and slow
  every spawn. A command still running :data:`SPAWN_RECORD_DELAY` (20 ms) after its
  spawn is reported to a callable ``task["rose_on_spawn"]`` as ``{"pid", "pgid",
  "start_time"}`` (``start_time``: field 22 of ``/proc/<pid>/stat``), so the core can
  journal the group and reap it on resume should the watchdog be gone too. A command
  that ends sooner is not (the watchdog covers it from its first moment): most commands
  of a fast campaign end within milliseconds, and reading ``/proc`` and journaling each
  one cost a fifth of a spawn (benchmarks/, scenario 9).
* **Spawning at the floor, whatever the campaign's size.** Commands start with
  ``vfork`` + ``exec`` (``subprocess`` does so when there is no ``preexec_fn``), so a
  campaign holding gigabytes spawns as fast as a small one; the event loop learns of the
  exit through a pidfd (Linux >= 5.3) and reads the pipes itself, with no thread per
  command (asyncio's child watcher on Python 3.11 starts one per process and blocks the
  loop until it runs). Elsewhere, asyncio's subprocess support does the same job.
  ``benchmarks/spawn.py`` (scenario 9) measures both against bare asyncio.
* **Bounded concurrency.** At most ``max_workers`` cores are busy with commands at once (a
  task asking for ``cores=2`` takes two); function tasks share a pool of ``max_workers``
  threads or processes. A command that finds no free core waits in a first-come,
  first-served queue (:mod:`rose_plugin_local.slots`) as a :class:`CommandRun
  <rose_plugin_local.commands.CommandRun>`, not as a coroutine, and starts in the loop turn
  that frees a core (:meth:`LocalBackend._start_command`). GPUs listed in ``CUDA_VISIBLE_DEVICES`` are handed out one task at
  a time.
* Finished tasks are forgotten, so a long campaign does not accumulate every stdout.

Why not rhapsody-py's ``ConcurrentExecutionBackend`` (which also honours cwd and env)?
Measured here: both run 200 ``true`` commands at the same rate (spawn-bound, ~300-400/s),
but importing rhapsody's backend imports every rhapsody backend whose dependency is
installed (Dask, RADICAL-Pilot): +2.2 s for the default backend, against 0 s for
asyncflow's, which the engine imports anyway. Neither kills the child on cancellation.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import signal
import subprocess
from collections.abc import AsyncIterator
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import IO, Any

from radical.asyncflow import LocalExecutionBackend

from rose.watchdog import Watchdog
from rose_plugin_local.children import Process, watches_pidfds
from rose_plugin_local.children import spawn as spawn_child
from rose_plugin_local.children import start as start_child
from rose_plugin_local.commands import SPAWN_RECORD_DELAY, CommandRun
from rose_plugin_local.resources import available_gpus
from rose_plugin_local.slots import Slots
from rose_plugin_local.threads import FunctionThreads, ThreadLoops

__all__ = ["SPAWN_RECORD_DELAY", "LocalBackend", "create_backend"]

logger = logging.getLogger(__name__)

EXECUTORS = ("thread", "process")
#: what a command that cannot start raises: its task fails with the reason (not the campaign)
SPAWN_ERRORS = (FileNotFoundError, PermissionError, NotADirectoryError)
#: the longest the watchdog waits to hear that a command ended (it hears it with the next spawn)
WATCHDOG_FLUSH_SECONDS = 0.02


def _check_picklable(task: dict[str, Any]) -> None:
    """Fail with a clear message when a function task's arguments cannot reach a worker process."""
    import pickle

    values = [(f"argument {i + 1}", v) for i, v in enumerate(task.get("args", ()))]
    values += [(f"keyword argument {k!r}", v) for k, v in (task.get("kwargs") or {}).items()]
    for label, value in values:
        try:
            pickle.dumps(value)
        except Exception as exc:
            raise TypeError(
                f"function task {task.get('name')!r} runs in a worker process (executor='process'), but its "
                f"{label} ({type(value).__name__}) cannot be sent there: {exc}. Pass plain data (numbers, "
                f"strings, arrays, file paths) or use rose.engine('local', executor='thread')."
            ) from exc


class LocalBackend(LocalExecutionBackend):  # type: ignore[misc]
    """Tasks on this machine: commands as process groups, functions on a pool.

    ``max_workers`` (default: the number of cores) bounds both the function pool and the
    cores busy with commands. ``executor`` is ``"thread"`` (default) or ``"process"``
    for function tasks (processes need picklable arguments; they are started with
    ``spawn``). ``kill_grace`` is how long a cancelled command has between SIGTERM and
    SIGKILL. Await the instance (or use ``async with``) before use, as with every
    asyncflow backend; ``rose.engine("local", ...)`` does that for you.
    """

    def __init__(
        self,
        max_workers: int | None = None,
        executor: str | Executor = "thread",
        *,
        kill_grace: float = 2.0,
        name: str = "local",
    ) -> None:
        workers = int(max_workers) if max_workers is not None else (os.cpu_count() or 1)
        if workers < 1:
            raise ValueError(f"local backend: max_workers must be >= 1, got {max_workers!r}")
        if isinstance(executor, str):
            if executor not in EXECUTORS:
                raise ValueError(
                    f"local backend: executor must be 'thread' or 'process', got {executor!r}"
                )
            pool: Executor
            if executor == "thread":
                pool = FunctionThreads(workers, name="rose-local")
            else:
                import multiprocessing

                pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
        elif isinstance(executor, Executor):
            pool = executor
        else:
            raise TypeError(f"local backend: executor must be 'thread', 'process' or an Executor, got {executor!r}")
        super().__init__(pool, name=name)
        self._thread_loops = ThreadLoops()  # for an Executor of the user's
        self.max_workers = workers
        self.kill_grace = float(kill_grace)
        self._slots = Slots(workers)
        self._gpu_pool = available_gpus()
        self._gpus_free = list(self._gpu_pool)
        self._gpu_waiters: list[asyncio.Future[None]] = []
        self._processes: dict[str, Process] = {}
        self._functions_running = 0
        self._watchdog = Watchdog(self.kill_grace)
        self._watchdog_flush: asyncio.TimerHandle | None = None

    # -- commands -----------------------------------------------------------------------
    async def _execute_command(self, task: dict[str, Any]) -> tuple[dict[str, Any], str]:
        options = task.get("task_backend_specific_kwargs") or {}
        argv = _argv(task)
        cores = int(options.get("cores", 1) or 1)
        if cores > self.max_workers:
            logger.warning(
                "task %s asks for %d cores; this backend has max_workers=%d, so it runs alone",
                task.get("name", task["uid"]), cores, self.max_workers,
            )
        gpus = int(options.get("gpus", 0) or 0)
        env = options.get("env")
        taken = 0 if gpus else self._slots.take_now(cores)
        if taken:  # the common case: a slot is free and no GPU is asked for
            try:
                return await self._run_process(task, argv, bool(options.get("shell", False)), options.get("cwd"), env)
            finally:
                self._slots.give_back(taken)
        async with self._slots.take(cores), self._take_gpus(gpus) as gpu_ids:
            if gpu_ids:
                env = {**(env if env is not None else os.environ), "CUDA_VISIBLE_DEVICES": ",".join(gpu_ids)}
            return await self._run_process(task, argv, bool(options.get("shell", False)), options.get("cwd"), env)

    async def _run_process(
        self, task: dict[str, Any], argv: list[str], shell: bool, cwd: str | None, env: dict[str, str] | None
    ) -> tuple[dict[str, Any], str]:
        out, err, files = self._outputs(task)
        try:
            process = await start_child(_to_start(argv, shell), shell=shell, stdout=out, stderr=err, cwd=cwd, env=env)
        except SPAWN_ERRORS as exc:
            return _spawn_failure(task, argv, cwd, files, exc)
        except BaseException:
            _close_all(files)
            raise
        run = CommandRun(task, stop=self._terminate, on_end=self._command_closed)
        self._follow(run, process, files)
        result: tuple[dict[str, Any], str] = await run
        return result

    def _start_command(self, task: dict[str, Any]) -> bool:
        """Take a command task without a coroutine around it (True): started in this loop turn
        when a slot is free, else queued for one and started in the turn that frees it.

        Its end is reported from the turn that sees the process end (:meth:`_command_ended`).
        Only where pidfds watch processes and no GPU is asked for; anything else returns
        False and takes the coroutine path (:meth:`_execute_command`).
        """
        options = task.get("task_backend_specific_kwargs") or {}
        cores = int(options.get("cores", 1) or 1)
        if options.get("gpus") or cores > self.max_workers or not watches_pidfds(asyncio.get_running_loop()):
            return False
        run = CommandRun(task, stop=self._terminate, on_end=self._command_ended)
        self.tasks[task["uid"]] = task
        task["future"] = run  # what cancel_task and shutdown cancel
        taken = self._slots.take_now(cores)
        if taken:
            self._launch(run, taken)
        else:
            run.withdraw = self._slots.take_later(cores, functools.partial(self._launch, run))
        return True

    def _launch(self, run: CommandRun, taken: int) -> None:
        """Start ``run``'s command on the ``taken`` slots it now holds (never raises: a failure settles the run)."""
        run.slots, run.withdraw = taken, None
        task = run.task
        options = task.get("task_backend_specific_kwargs") or {}
        argv = _argv(task)
        shell, cwd = bool(options.get("shell", False)), options.get("cwd")
        try:
            out, err, files = self._outputs(task)
            try:
                process = spawn_child(_to_start(argv, shell), shell=shell, stdout=out, stderr=err, cwd=cwd,
                                      env=options.get("env"))
            except SPAWN_ERRORS as exc:
                run.finish(*_spawn_failure(task, argv, cwd, files, exc))
                return
            except BaseException:
                _close_all(files)
                raise
            self._follow(run, process, files)
        except Exception as exc:  # noqa: BLE001 - e.g. no file descriptor left: this task fails, not the loop
            run.fail(exc)

    def _outputs(self, task: dict[str, Any]) -> tuple[Any, Any, tuple[IO[bytes], ...]]:
        """Where the command writes: pipes, or with ``capture_stdio`` files in the engine's folder."""
        if not task.get("capture_stdio"):
            return subprocess.PIPE, subprocess.PIPE, ()
        uid = task["uid"]
        stdout_file = open(os.path.join(self._work_dir, f"{uid}.stdout"), "wb")
        try:
            stderr_file = open(os.path.join(self._work_dir, f"{uid}.stderr"), "wb")
        except BaseException:
            stdout_file.close()
            raise
        return stdout_file, stderr_file, (stdout_file, stderr_file)

    def _follow(self, run: CommandRun, process: Process, files: tuple[IO[bytes], ...]) -> None:
        """A command just started: known to the watchdog and to :meth:`shutdown`, followed by ``run``."""
        self._processes[run.task["uid"]] = process
        self._watchdog.started(process.pid)
        run.follow(process, files)

    def _command_closed(self, run: CommandRun) -> None:
        if run.process is None:
            return  # never started
        self._processes.pop(run.task["uid"], None)
        self._watchdog.ended(run.process.pid, soon=True)  # with the next start, or within 20 ms
        self._flush_watchdog_soon()

    def _command_ended(self, run: CommandRun) -> None:
        """The end of a command taken by :meth:`_start_command`: reported as _handle_task would."""
        self._command_closed(run)
        if run.slots:  # first: a queued command starts while this one's end is reported
            taken, run.slots = run.slots, 0
            self._slots.give_back(taken)
        self.tasks.pop(run.task["uid"], None)
        if run.cancelled():
            return  # cancel_task reported it
        error = run.exception()
        if error is not None:
            run.task.update({"stderr": str(error), "stdout": None, "exit_code": 1, "exception": error})
            self._callback_func(run.task, "FAILED")
            return
        self._callback_func(*run.result())

    def _flush_watchdog_soon(self) -> None:
        if self._watchdog_flush is None:
            self._watchdog_flush = asyncio.get_running_loop().call_later(WATCHDOG_FLUSH_SECONDS, self._flush_watchdog)

    def _flush_watchdog(self) -> None:
        self._watchdog_flush = None
        self._watchdog.flush()

    async def _terminate(self, process: Process, task: dict[str, Any]) -> None:
        """SIGTERM the task's process group, SIGKILL it after ``kill_grace`` seconds."""
        logger.info("task %s cancelled: stopping process group %d", task.get("name", task["uid"]), process.pid)
        _signal_group(process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), self.kill_grace)
        except (asyncio.TimeoutError, asyncio.CancelledError):
            pass
        finally:
            # the leader may be gone while children that ignored SIGTERM live on
            _signal_group(process.pid, signal.SIGKILL)
        if process.returncode is None:
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(process.wait(), 1.0)

    @contextlib.asynccontextmanager
    async def _take_gpus(self, count: int) -> AsyncIterator[list[str]]:
        if count <= 0:
            yield []
            return
        if count > len(self._gpu_pool):
            raise RuntimeError(
                f"task asks for {count} GPU(s) but this backend sees {len(self._gpu_pool)} "
                "(CUDA_VISIBLE_DEVICES / /dev/nvidia*)"
            )
        while len(self._gpus_free) < count:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._gpu_waiters.append(waiter)
            try:
                await waiter
            finally:
                if waiter in self._gpu_waiters:
                    self._gpu_waiters.remove(waiter)
        taken, self._gpus_free = self._gpus_free[:count], self._gpus_free[count:]
        try:
            yield taken
        finally:
            self._gpus_free.extend(taken)
            for waiter in self._gpu_waiters:
                if not waiter.done():
                    waiter.set_result(None)

    # -- functions ----------------------------------------------------------------------
    def _run_in_thread(self, func: Any, args: Any, kwargs: Any) -> Any:  # type: ignore[override]
        return self._thread_loops.run(func, args, kwargs)

    async def _execute_function(self, task: dict[str, Any]) -> tuple[dict[str, Any], str]:
        executor = self.executor
        if isinstance(executor, ProcessPoolExecutor):
            _check_picklable(task)
        self._functions_running += 1
        try:  # (functions on FunctionThreads take the shorter way in _handle_task)
            result: tuple[dict[str, Any], str] = await super()._execute_function(task)
            return result
        finally:
            self._functions_running -= 1

    def rose_start_task(self, task: dict[str, Any]) -> bool:
        """Start a task with no coroutine around it (True), or leave it to the ordinary path (False).

        The core's submission asks this first (:func:`rose.engine.submit_task`): the task's end
        is reported from a callback, as :meth:`_handle_task` would report it, without an
        asyncio task held per task in flight (scenario 7). Function tasks run on this
        backend's threads; commands start at once or wait in the queue for a core
        (:meth:`_start_command`). Functions on another executor, commands asking for a GPU
        or for more cores than ``max_workers``, and commands where pidfds cannot watch
        processes, return False.
        """
        function = task.get("function")
        if not function:
            return self._start_command(task)
        executor = self.executor
        if not isinstance(executor, FunctionThreads):
            return False
        running = executor.start(function, task.get("args", ()), task.get("kwargs", {}), stop_on_cancel=False,
                                 on_end=functools.partial(self._function_ended, task))
        self.tasks[task["uid"]] = task
        task["future"] = running  # what cancel_task and shutdown cancel
        self._functions_running += 1
        return True

    def _function_ended(self, task: dict[str, Any], running: asyncio.Future[Any]) -> None:
        self._functions_running -= 1
        self.tasks.pop(task["uid"], None)
        if running.cancelled():
            self.executor.stop_if_cancelled(running)  # its coroutine stops at its next await
            return  # cancel_task reported it
        error = running.exception()
        if error is None:  # no str(value) as stdout, as asyncflow does: printing a large result is pure cost
            task.update({"return_value": running.result(), "stdout": "", "exit_code": 0})
            self._callback_func(task, "DONE")
        else:
            task.update({"stderr": str(error), "stdout": None, "exit_code": 1, "exception": error,
                         "return_value": None})
            self._callback_func(task, "FAILED")

    # -- bookkeeping, cancellation, shutdown -------------------------------------------
    async def _handle_task(self, task: dict[str, Any]) -> None:
        # asyncflow's _handle_task, plus forgetting the task at its end. A function task on
        # our threads is awaited right here rather than through _execute_task and
        # _execute_function: two coroutine frames less held per task in flight (scenario 7).
        executor = self.executor
        try:
            if task.get("function") and isinstance(executor, FunctionThreads):
                self._functions_running += 1
                try:
                    value = await executor.start(task["function"], task.get("args", ()), task.get("kwargs", {}))
                except Exception as exc:  # noqa: BLE001 - the task failed: recorded as asyncflow's _execute_task does
                    task.update({"stderr": str(exc), "stdout": None, "exit_code": 1, "exception": exc,
                                 "return_value": None})
                    result_task, state = task, "FAILED"
                else:  # no str(value) as stdout, as asyncflow does: printing a large result is pure cost
                    task.update({"return_value": value, "stdout": "", "exit_code": 0})
                    result_task, state = task, "DONE"
                finally:
                    self._functions_running -= 1
            else:
                result_task, state = await self._execute_task(task)
            self._callback_func(result_task, state)
        except Exception:
            logger.exception("error handling task %s", task.get("uid"))
            raise
        finally:
            self.tasks.pop(task["uid"], None)

    async def cancel_all_tasks(self) -> int:
        """Cancel every task: first the commands waiting for a core, newest first, then the rest.

        A waiting command is forgotten as soon as it is cancelled (so this walks a copy), and
        withdrawing the newest first never lets one of them reach a core freed on the way.
        """
        tasks = list(self.tasks.values())
        self.tasks.clear()
        waiting = [t for t in tasks if isinstance(t.get("future"), CommandRun) and t["future"].process is None]
        for task in reversed(waiting):
            task["future"].cancel()
        for task in tasks:
            future = task.get("future")
            if future is not None:
                future.cancel()
        return len(tasks)

    async def shutdown(self) -> None:
        """Cancel every task (killing its process group), then stop the pool."""
        pending = [t["future"] for t in list(self.tasks.values()) if t.get("future") is not None]
        await self.cancel_all_tasks()
        if pending:
            await asyncio.wait(pending, timeout=self.kill_grace + 2.0)
        for uid, process in list(self._processes.items()):  # pragma: no cover - safety net
            logger.warning("process of task %s survived cancellation; killing it", uid)
            _signal_group(process.pid, signal.SIGKILL)
        executor = self.executor
        if isinstance(executor, ProcessPoolExecutor):
            if self._functions_running:
                logger.warning("stopping %d running function task(s) in worker processes", self._functions_running)
                _terminate_workers(executor)
            await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)
        else:
            if self._functions_running:
                logger.warning(
                    "%d function task(s) are still running on threads; Python cannot stop a thread, "
                    "so they finish in the background and their results are discarded",
                    self._functions_running,
                )
            executor.shutdown(wait=False, cancel_futures=True)
        self._thread_loops.close()
        if self._watchdog_flush is not None:
            self._watchdog_flush.cancel()  # close() writes what waits
            self._watchdog_flush = None
        await asyncio.to_thread(self._watchdog.close)
        logger.info("local backend shut down")


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _terminate_workers(executor: ProcessPoolExecutor) -> None:
    terminate = getattr(executor, "terminate_workers", None)  # Python >= 3.14
    if terminate is not None:
        terminate()
        return
    for process in list(getattr(executor, "_processes", {}).values()):  # same thing before 3.14
        with contextlib.suppress(Exception):
            process.terminate()


def _argv(task: dict[str, Any]) -> list[str]:
    """A command task's argv, as asyncflow holds it (``executable`` and ``arguments``)."""
    return [str(task["executable"]), *(str(a) for a in task.get("arguments") or ())]


def _to_start(argv: list[str], shell: bool) -> str | list[str]:
    """What to start: asyncflow split a shell command string; the shell joins it back."""
    return " ".join(argv) if shell else argv


def _close_all(files: tuple[IO[bytes], ...]) -> None:
    for handle in files:
        handle.close()


def _spawn_failure(
    task: dict[str, Any], argv: list[str], cwd: str | None, files: tuple[IO[bytes], ...], exc: OSError
) -> tuple[dict[str, Any], str]:
    """The failed result of a command that could not start (its capture files closed)."""
    _close_all(files)
    if cwd is not None and not os.path.isdir(cwd):
        message, code = f"working directory {cwd!r} does not exist (task resources cwd=...)", 126
    elif isinstance(exc, FileNotFoundError):
        message, code = f"command not found: {argv[0]!r} (is it installed and on PATH?)", 127
    else:
        message, code = f"cannot execute {argv[0]!r}: {exc}", 126
    task.update({"stdout": "", "stderr": message, "exit_code": code})
    return task, "FAILED"


async def create_backend(
    max_workers: int | None = None, executor: str = "thread", kill_grace: float = 2.0, **unknown: Any
) -> LocalBackend:
    """The ``local`` backend for ``rose.engine("local", max_workers=..., executor=...)``.

    Options may arrive as strings (``rose run --backend-option max_workers=4``); they are
    checked here, and an unknown one is an error listing the valid ones.
    """
    if unknown:
        raise TypeError(
            f"local backend: unknown option(s) {sorted(unknown)}; rose.engine('local', ...) takes max_workers "
            "(a whole number), executor ('thread' or 'process') and kill_grace (seconds)"
        )
    if max_workers is not None:
        if isinstance(max_workers, bool) or not isinstance(max_workers, (int, str)) or not str(max_workers).isdigit():
            raise TypeError(f"local backend: max_workers must be a whole number >= 1, got {max_workers!r}")
        max_workers = int(max_workers)
    try:
        kill_grace = float(kill_grace)
    except (TypeError, ValueError):
        raise TypeError(f"local backend: kill_grace must be a number of seconds, got {kill_grace!r}") from None
    from rose.engine import quiet_asyncflow_shutdown

    quiet_asyncflow_shutdown()
    backend = LocalBackend(max_workers=max_workers, executor=executor, kill_grace=kill_grace)
    await backend
    logger.info("local backend: %d worker(s), %s executor", backend.max_workers, executor)
    return backend
