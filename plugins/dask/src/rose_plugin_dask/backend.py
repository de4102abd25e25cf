"""``DaskBackend``: rhapsody-py's Dask backend with killable commands and owned clusters.

rhapsody's :class:`~rhapsody.backends.DaskExecutionBackend` does run executables (through
``subprocess.run`` inside a worker thread) and honours ``cwd``/``env``/``shell``. What this
subclass changes:

* **Cancellation kills the command.** A running Dask task cannot be interrupted, so the
  command runs through :func:`rose_plugin_dask.worker.run_command` in its own process
  group, and cancelling the task (a ``timeout``, a ``break``, shutdown) signals that group
  on the workers (SIGTERM, SIGKILL after ``kill_grace`` seconds).
* ``env`` is added to the worker's environment instead of replacing it.
* **Commands run in the task's working directory** (the learner's directory inside the
  campaign directory); a worker that cannot see it fails the task with a message naming
  the worker and the path. A command whose future is cancelled, or whose client is gone
  (the campaign process died), is killed on the worker; so is one whose worker process
  dies (a watchdog per worker process). Each command's process (pid, group, start time,
  host) comes back as a Dask event and is journaled, so a resume on that host ends it
  should it still run.
* **Function tasks find the campaign's modules.** They are sent as a payload that the
  worker unpickles after putting the campaign script's directory on ``sys.path``; a
  module still missing there is a ``ModuleNotFoundError`` naming the module, the worker
  and the fix (Dask alone reports "Error during deserialization of the task graph").
  They get only the description keys ``Client.submit`` accepts (``resources``,
  ``workers``, ``retries``, ...), so a ``cwd`` or ``env`` request cannot break submission.
* A GPU request no worker offers fails the task with :class:`~rose.errors.ResourceError`.
* **Results are fetched in batches**: a task's end is awaited without fetching its result,
  and one collector fetches the results of the tasks that ended meanwhile in one
  ``Client.gather`` (rhapsody awaited each future, one request per task). Tasks with no
  resource request are submitted from the core's submission itself (:meth:`rose_start_task`),
  and those started in one turn of the event loop reach the scheduler together, as one
  ``Client.map`` (:mod:`rose_plugin_dask.submissions`).
* With no address (and no ``DASK_SCHEDULER_ADDRESS``), the backend starts a
  ``LocalCluster`` and closes it on shutdown. ``distributed``'s INFO lines stay quiet
  unless ROSE's own log level is INFO or lower.
"""
# ruff: noqa: E402 - radical.utils warns at import unless its fork warning is silenced first

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, cast

from rose.engine import quiet_asyncflow_shutdown, script_directory, silence_radical_fork_warning

silence_radical_fork_warning()

from distributed.client import FutureCancelledError
from rhapsody.backends.constants import BackendMainStates
from rhapsody.backends.execution.dask_parallel import DaskExecutionBackend, _TaskRuntime

from rose.errors import ResourceError
from rose_plugin_dask.submissions import SubmitQueue
from rose_plugin_dask.worker import kill_command, run_command, run_function

__all__ = ["DaskBackend", "create_backend"]

logger = logging.getLogger(__name__)

#: seconds finished results may wait to be fetched together while every worker thread has a task queued
BATCH_WAIT = 0.02
#: task-description keys passed to ``Client.submit`` for function tasks
SUBMIT_KEYS = ("resources", "workers", "allow_other_workers", "retries", "priority", "fifo_timeout", "key")


class DaskBackend(DaskExecutionBackend):  # type: ignore[misc]
    """Tasks on a Dask cluster; same constructor as rhapsody's ``DaskExecutionBackend``.

    ``own_cluster=True`` makes :meth:`shutdown` close ``cluster`` too (``rose.engine``
    sets it for the LocalCluster it starts). ``kill_grace`` is how long a cancelled
    command has between SIGTERM and SIGKILL.
    """

    def __init__(
        self,
        resources: dict[str, Any] | None = None,
        name: str = "dask",
        cluster: Any | None = None,
        client: Any | None = None,
        *,
        own_cluster: bool = False,
        kill_grace: float = 2.0,
    ) -> None:
        super().__init__(resources=resources, name=name, cluster=cluster, client=client)
        self._own_cluster = own_cluster
        self.kill_grace = float(kill_grace)
        # asyncflow numbers tasks per engine (task.000000, ...); Dask keys and the
        # workers' kill registry are cluster-wide, so they carry this backend's token
        self._token = uuid.uuid4().hex[:12]
        self._workers_seen: tuple[float, list[dict[str, Any]]] | None = None
        self._spawn_topic = f"rose-spawn-{self._token}"
        self._on_spawn: dict[str, Any] = {}  # Dask key -> the core's task["rose_on_spawn"]
        self._subscribed = False
        self._keys: dict[str, str] = {}  # uid -> Dask key, while the task is tracked
        # futures that finished, waiting for the collector to fetch their results in one gather
        self._finished: list[tuple[dict[str, Any], Any, str]] = []
        self._finished_event: asyncio.Event | None = None
        self._collector: asyncio.Task[None] | None = None
        self._queue: SubmitQueue | None = None  # tasks started this turn of the event loop

    def _key(self, uid: str) -> str:
        """The Dask key of task ``uid`` (see :func:`dask_key`)."""
        key = self._keys.get(uid)
        if key is None:  # not (or no longer) tracked: the key it would have
            key = dask_key(str((self.tasks.get(uid) or {}).get("name") or "task"), uid, self._token)
        return key

    def _purge(self, uid: str) -> None:
        """Forget a finished task (rhapsody's bookkeeping and its Dask key)."""
        super()._purge(uid)
        self._keys.pop(uid, None)

    def rose_start_task(self, task: dict[str, Any]) -> bool:
        """Submit ``task`` to Dask now, with no coroutine around it (True); False: the ordinary path.

        The core asks this first (:func:`rose.engine.submit_task`). A task with ``cores``,
        ``memory_mb`` or Dask ``resources`` takes the ordinary path (:meth:`submit_tasks`),
        which checks them against the workers first. Saved per task: the asyncio task the core
        would run :meth:`submit_tasks` in, and the ``RUNNING`` callback (which on Dask only
        meant "submitted"; the local backend's own fast path does not send it either).
        """
        options = task.get("task_backend_specific_kwargs") or {}
        client = self._client
        if (not self._initialized or client is None or client.status != "running"
                or options.get("cores") or options.get("memory_mb") or options.get("resources")
                or not (task.get("function") or task.get("executable"))):
            return False
        self._backend_state = BackendMainStates.RUNNING
        uid = task["uid"]
        self._assign_key(task)
        kind = "executable" if task.get("executable") else "function"
        self.tasks[uid] = task
        self._runtime[uid] = _TaskRuntime(uid=uid, kind=kind, submitted_at=time.monotonic())
        try:
            function, args, kwargs = self._executable_call(task) if kind == "executable" else self._function_call(task)
            submit_options = dict(task.get("task_backend_specific_kwargs") or {})
            if kind == "executable":
                submit_options = {k: v for k, v in submit_options.items()
                                  if k not in ("cwd", "shell", "env", "cores", "memory_mb")}
            self._submit_queue(client).put(task, kind, function, args, kwargs, submit_options)
        except BaseException:
            self._purge(uid)
            raise  # the core reports it as this task's failure
        return True

    def _submit_queue(self, client: Any) -> SubmitQueue:
        """The queue that sends the tasks started in one turn of the event loop together."""
        queue = self._queue
        if queue is None or queue.client is not client:
            queue = self._queue = SubmitQueue(client, self._submitted, self._refused, self._still_wanted)
        return queue

    def _submitted(self, task: dict[str, Any], kind: str, future: Any) -> None:
        """Dask has ``task`` (from :class:`SubmitQueue`): wait for its end."""
        self._runtime[task["uid"]].future = future
        asyncio.get_running_loop().create_task(self._await_end(task, future, kind))

    def _refused(self, task: dict[str, Any], error: BaseException) -> None:
        """Dask refused ``task`` (from :class:`SubmitQueue`): it fails with that error."""
        task.update({"exception": error, "stdout": "", "stderr": str(error)})
        self._purge(task["uid"])
        asyncio.get_running_loop().create_task(self._invoke_callback(task, "FAILED"))

    def _still_wanted(self, uid: str) -> bool:
        return uid in self._runtime

    async def _on_done(self, task: dict[str, Any], future: Any, kind: str) -> None:
        """rhapsody's completion handler (the ordinary path): report RUNNING, then as :meth:`_await_end`."""
        await self._invoke_callback(task, "RUNNING")
        await self._await_end(task, future, kind)

    async def _await_end(self, task: dict[str, Any], future: Any, kind: str) -> None:
        """Wait for ``future`` to end without fetching its result, then hand it to the collector.

        rhapsody awaited each future on its own (``await future``), and each of those awaits
        is a ``gather`` request of its own (client -> scheduler -> worker and back): 1,962
        requests for 2,000 tasks, measured, against 4 for ``Client.gather`` on the same
        futures. ``Future.exception()`` only waits for the scheduler's report; the collector
        (:meth:`_collect`) fetches the results of the futures that finished in one request.
        """
        try:
            await future.exception()  # waits for the end (finished, error, cancelled); fetches nothing
        except Exception as exc:  # noqa: BLE001 - not expected (it only waits): reported against this task
            task.update({"exception": exc, "stdout": "", "stderr": str(exc)})
            await self._invoke_callback(task, "FAILED")
            self._purge(task["uid"])
            return
        self._finished.append((task, future, kind))
        if self._collector is None or self._collector.done():
            self._finished_event = asyncio.Event()
            self._collector = asyncio.get_running_loop().create_task(self._collect(self._finished_event))
        assert self._finished_event is not None
        self._finished_event.set()

    async def _collect(self, wake: asyncio.Event) -> None:
        """Settle finished futures in batches: one ``gather`` for the results of a batch.

        One batch at a time: the futures that finish while a batch's results are on their way
        make the next batch. While more tasks are in flight than the cluster has worker threads,
        every thread has a task waiting, so a result fetched a little later leaves no worker idle:
        the collector then lets results gather for up to :data:`BATCH_WAIT` seconds first (no longer
        than that state lasts).
        """
        loop = asyncio.get_running_loop()
        while True:
            await wake.wait()
            threads = await self._worker_threads()
            deadline = loop.time() + BATCH_WAIT
            # each task that ends wakes this up: stop waiting as soon as a thread may be idle
            while threads and len(self._runtime) - len(self._finished) > threads and loop.time() < deadline:
                wake.clear()
                timer = loop.call_later(deadline - loop.time(), wake.set)
                await wake.wait()
                timer.cancel()
            wake.clear()
            batch, self._finished = self._finished, []
            try:
                await self._settle(batch)
            except Exception:  # never leave the collector dead: the tasks would never settle
                logger.exception("could not settle %d Dask task(s)", len(batch))

    async def _worker_threads(self) -> int:
        """Threads of all workers (from the scheduler, looked up at most every 5 s); 0 if unknown."""
        try:
            workers = await self._workers()
        except Exception:  # unknown: results are then fetched without waiting
            logger.debug("could not ask the Dask scheduler for its workers", exc_info=True)
            return 0
        return sum(int(worker.get("nthreads") or 1) for worker in workers)

    async def _workers(self) -> list[dict[str, Any]]:
        """The scheduler's worker records, looked up at most every 5 s."""
        now = time.monotonic()
        if self._workers_seen is None or now - self._workers_seen[0] > 5.0:
            identity = await self._client.scheduler.identity()
            self._workers_seen = (now, list((identity.get("workers") or {}).values()))
        return self._workers_seen[1]

    async def _settle(self, batch: list[tuple[dict[str, Any], Any, str]]) -> None:
        """Fetch the results of the batch's finished futures in one request, then report every task."""
        fetched = [(task, future, kind) for task, future, kind in batch if future.status == "finished"]
        values: dict[str, Any] = {}
        if fetched:
            try:
                results = await self._client.gather([future for _, future, _ in fetched])
            except Exception:  # e.g. a result lost with its worker: each task on its own says which
                logger.debug("gathering %d Dask results at once failed; one by one", len(fetched), exc_info=True)
            else:
                values = {task["uid"]: value for (task, _, _), value in zip(fetched, results)}
        for task, future, kind in batch:
            await self._report(task, future, kind, values)

    async def _report(self, task: dict[str, Any], future: Any, kind: str, values: dict[str, Any]) -> None:
        """Record the outcome on ``task`` and call the callback: DONE, FAILED or CANCELED (as rhapsody does)."""
        uid = task["uid"]
        try:
            # an error or a cancellation raises here without a request (the scheduler already sent it)
            value = values[uid] if uid in values else await future
            if kind == "executable":
                task["stdout"], task["stderr"], task["exit_code"] = value
                state = "DONE" if task["exit_code"] == 0 else "FAILED"
            else:
                task.update({"return_value": value, "stdout": "", "stderr": ""})
                state = "DONE"
            await self._invoke_callback(task, state)
        except FutureCancelledError:
            await self._invoke_callback(task, "CANCELED")
        except Exception as exc:  # noqa: BLE001 - the task's own error, reported against it
            task.update({"exception": exc, "stdout": "", "stderr": str(exc)})
            await self._invoke_callback(task, "FAILED")
        finally:
            self._purge(uid)

    @property
    def client(self) -> Any:
        """The ``distributed.Client`` (asynchronous) this backend submits to."""
        return self._client

    async def submit_tasks(self, tasks: list[dict[str, Any]]) -> None:
        """Refuse what no worker offers, then submit the rest through rhapsody."""
        accepted = []
        for task in tasks:
            options = dict(task.get("task_backend_specific_kwargs") or {})
            cores, memory_mb = options.pop("cores", None), options.pop("memory_mb", None)
            task["task_backend_specific_kwargs"] = options
            problem = await self._misfit(cores, memory_mb) if (cores or memory_mb) else None
            if problem is not None:
                request = {k: v for k, v in (("cores", cores), ("memory_mb", memory_mb)) if v}
                error = ResourceError(str(task.get("name", task["uid"])), request, "dask", problem)
                task.update({"exception": error, "stdout": "", "stderr": str(error), "exit_code": None})
                await self._invoke_callback(task, "FAILED")
                continue
            wanted = (task.get("task_backend_specific_kwargs") or {}).get("resources")
            if wanted and not await self._check_resources_satisfiable(wanted):
                error = ResourceError(
                    str(task.get("name", task["uid"])), wanted, "dask",
                    f"no worker of the cluster offers {wanted}; start workers with "
                    f"`dask worker <scheduler> --resources \"GPU=<n>\"` to run GPU tasks",
                )
                task.update({"exception": error, "stdout": "", "stderr": str(error), "exit_code": None})
                await self._invoke_callback(task, "FAILED")
                continue
            self._assign_key(task)
            accepted.append(task)
        if accepted:
            await super().submit_tasks(accepted)

    def _assign_key(self, task: dict[str, Any]) -> None:
        """Give ``task`` its Dask key (:func:`dask_key`, unless its description sets one)."""
        options = dict(task.get("task_backend_specific_kwargs") or {})
        options["key"] = self._keys[task["uid"]] = str(
            options.get("key") or dask_key(str(task.get("name") or "task"), task["uid"], self._token))
        task["task_backend_specific_kwargs"] = options

    async def _misfit(self, cores: int | None, memory_mb: int | None) -> str | None:
        """Why no worker can hold ``cores`` threads and ``memory_mb`` MiB, or None if one can."""
        workers = await self._workers()
        if not workers:
            return None  # workers may still be joining; Dask queues the task
        need_memory = (memory_mb or 0) * 1024 * 1024
        for worker in workers:
            limit = int(worker.get("memory_limit") or 0)
            if int(worker.get("nthreads") or 1) >= (cores or 1) and (not limit or limit >= need_memory):
                return None
        threads = max(int(w.get("nthreads") or 1) for w in workers)
        memory = max(int(w.get("memory_limit") or 0) for w in workers) // (1024 * 1024)
        return (
            f"no worker has {cores or 1} thread(s) and {memory_mb or 0} MiB (the largest have {threads} thread(s), "
            f"{memory} MiB); start workers with `dask worker <scheduler> --nthreads N --memory-limit XGiB` "
            "or ask for less"
        )

    async def _submit_executable(self, task: dict[str, Any]) -> None:
        function, args, kwargs = self._executable_call(task)
        await self._submit_and_track(task, function, args, kind="executable", fn_kwargs=kwargs)

    async def _submit_function(self, task: dict[str, Any]) -> None:
        function, args, _ = self._function_call(task)
        await self._submit_and_track(task, function, args, kind="function")

    def _executable_call(self, task: dict[str, Any]) -> tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]:
        """What runs command task ``task`` on a worker: :func:`~rose_plugin_dask.worker.run_command` and its arguments."""
        options = task.get("task_backend_specific_kwargs") or {}
        argv = [str(task["executable"]), *(str(a) for a in task.get("arguments") or ())]
        fn_kwargs = {
            "cwd": options.get("cwd"),
            "env": options.get("env"),
            "shell": bool(options.get("shell", False)),
            "capture_dir": self._work_dir if task.get("capture_stdio") else None,
        }
        on_spawn = task.get("rose_on_spawn")
        if on_spawn is not None and self._client is not None:
            if not self._subscribed:
                self._client.subscribe_topic(self._spawn_topic, self._spawned)
                self._subscribed = True
            self._on_spawn[self._key(task["uid"])] = on_spawn
            fn_kwargs["spawn_topic"] = self._spawn_topic
        return run_command, (argv, self._key(task["uid"])), fn_kwargs

    def _function_call(self, task: dict[str, Any]) -> tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]:
        """What runs function task ``task`` on a worker: :func:`~rose_plugin_dask.worker.run_function` and its
        arguments; the task's description keeps only what ``Client.submit`` accepts."""
        options = task.get("task_backend_specific_kwargs") or {}
        task["task_backend_specific_kwargs"] = {k: v for k, v in options.items() if k in SUBMIT_KEYS}
        name = str(task.get("name", task["uid"]))
        qualname = getattr(task["function"], "__qualname__", name)
        name = name if qualname == name else f"{name} ({qualname})"
        payload = function_payload(name, task["function"], task.get("args") or (), task.get("kwargs") or {})
        return run_function, (payload, name, script_directory()), {}

    def _spawned(self, event: Any) -> None:
        """A worker started a task's command: hand its process to the core (journaled)."""
        message = event[1] if isinstance(event, tuple) and len(event) == 2 else event
        if not isinstance(message, dict):
            return
        callback = self._on_spawn.pop(str(message.get("key")), None)
        if callback is None:
            return
        try:
            callback({k: message.get(k) for k in ("pid", "pgid", "start_time", "host")})
        except Exception:
            logger.warning("could not record the process of Dask task %s", message.get("key"), exc_info=True)

    async def cancel_task(self, uid: str) -> bool:
        """Cancel the Dask future and kill the task's command on whichever worker runs it."""
        self._on_spawn.pop(self._key(uid), None)
        if self._queue is not None and self._queue.holds(uid) and uid in self._runtime:
            task = self.tasks[uid]  # started this turn, not sent yet: it never reaches Dask
            self._purge(uid)
            await self._invoke_callback(task, "CANCELED")
            return True
        runtime = self._runtime.get(uid)
        if runtime is not None and runtime.kind == "executable" and self._client is not None:
            try:
                await self._client.run(kill_command, self._key(uid), self.kill_grace)
            except Exception:  # the cluster may be going away: cancelling the future still helps
                logger.warning("could not signal the command of task %s on the workers", uid, exc_info=True)
        cancelled: bool = await super().cancel_task(uid)
        return cancelled

    async def shutdown(self) -> None:
        """Cancel (and kill) running tasks, close the client, and the cluster if owned."""
        cluster = self._cluster_provided
        if self._queue is not None:
            self._queue.send()  # what was started this turn has futures for rhapsody to cancel
        await super().shutdown()
        await asyncio.sleep(0)  # the futures it cancelled have ended: their waits hand them over
        collector, self._collector = self._collector, None
        if collector is not None and not collector.done():
            collector.cancel()
        left, self._finished = self._finished, []
        for task, future, kind in left:  # reported without the collector (cancelled: CANCELED)
            await self._report(task, future, kind, {})
        if self._own_cluster and cluster is not None:
            await _close(cluster)
            logger.info("Dask LocalCluster closed")


_NOT_IN_PREFIX = re.compile(r"[^A-Za-z0-9_.]+")


def dask_key(name: str, uid: str, token: str) -> str:
    """The Dask key of a ROSE task: ``<task name>-<uid>-<backend token>``.

    Dask groups tasks by the part of the key before the first ``-`` followed by a
    non-letter (``dask.utils.key_split``): all tasks of one name form one task group and
    prefix, as ``Client.map`` keys do. Keyed ``task.000012-...``, every task was a group
    of its own; the scheduler then walks every group on each submission (measured: the
    scheduler's ``update_graph`` 3x as costly per task as for ``Client.submit``, and
    each worker's per-prefix counters too), and learns no task duration.
    """
    prefix = _NOT_IN_PREFIX.sub("_", name).strip("_") or "task"
    return f"{prefix}-{uid}-{token}"


async def _close(cluster: Any) -> None:
    """Close an asynchronous Dask cluster (``close()`` returns an awaitable then, else None)."""
    closing = cluster.close()
    if closing is not None:
        await closing


def function_payload(name: str, function: Any, args: Any, kwargs: Any) -> bytes:
    """``cloudpickle.dumps((function, args, kwargs))``, or a TypeError naming what cannot be sent."""
    import cloudpickle

    try:
        return bytes(cloudpickle.dumps((function, tuple(args), dict(kwargs))))
    except Exception as exc:
        raise TypeError(
            f"function task {name!r} cannot be sent to the Dask workers: {exc}. Its function and arguments "
            "must be picklable (plain data, arrays, file paths; no open files, locks or engines)"
        ) from exc


def quiet_distributed() -> None:
    """Keep ``distributed``'s INFO lines off the console unless ROSE logs at INFO or lower.

    Sets the level of the ``distributed`` logger here, and ``DASK_LOGGING__DISTRIBUTED`` for
    the worker processes a LocalCluster starts (unless the user set it).
    """
    if logging.getLogger("rose").getEffectiveLevel() <= logging.INFO:
        return
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")
    logging.getLogger("distributed").setLevel(logging.WARNING)


def _check_int(option: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TypeError(f"dask backend: {option} must be a whole number >= {minimum}, got {value!r}")
    try:
        number = int(value)
    except ValueError:
        raise TypeError(f"dask backend: {option} must be a whole number >= {minimum}, got {value!r}") from None
    if number < minimum:
        raise ValueError(f"dask backend: {option} must be >= {minimum}, got {value!r}")
    return number


def _check_bool(option: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.lower() in ("true", "1", "yes")
    raise TypeError(f"dask backend: {option} must be true or false, got {value!r}")


def _log_dashboard(client: Any) -> None:
    link = None
    try:
        link = client.dashboard_link
    except Exception:  # noqa: BLE001 - no dashboard is not an error
        link = None
    if link:
        logging.getLogger("rose.lifecycle.dask").info("Dask dashboard: %s", link)


async def create_backend(
    address: str | None = None,
    *,
    n_workers: int = 2,
    threads_per_worker: int = 1,
    processes: bool = True,
    kill_grace: float = 2.0,
    **client_options: Any,
) -> DaskBackend:
    """The ``dask`` backend for ``rose.engine("dask", address=..., ...)``.

    With ``address`` (``"tcp://host:8786"``) it connects to that scheduler, as it does
    when ``DASK_SCHEDULER_ADDRESS`` (Dask's ``scheduler-address`` setting) is set;
    ``client_options`` go to ``distributed.Client``. Without, it starts a
    ``LocalCluster`` of ``n_workers`` worker processes (``processes=False``: threads)
    with ``threads_per_worker`` threads each, closed when the engine shuts down
    (``dashboard=True`` gives it a dashboard, whose address is logged). Options from
    ``rose run --backend-option`` may arrive as strings; they are checked here.
    ``cluster="slurm"`` runs the workers as Slurm batch jobs instead
    (:mod:`rose_plugin_dask.jobqueue`: ``jobs``, ``cores``, ``memory``, ``walltime``, ...).
    """
    jobqueue = client_options.pop("cluster", None)
    if jobqueue is not None:
        from rose_plugin_dask.jobqueue import start_jobqueue_backend

        quiet_distributed()
        quiet_asyncflow_shutdown()
        return cast(DaskBackend, await start_jobqueue_backend(str(jobqueue), kill_grace=kill_grace, **client_options))
    n_workers = _check_int("n_workers", n_workers, 1)
    threads_per_worker = _check_int("threads_per_worker", threads_per_worker, 1)
    processes = _check_bool("processes", processes)
    dashboard = _check_bool("dashboard", client_options.pop("dashboard", False))
    try:
        kill_grace = float(kill_grace)
    except (TypeError, ValueError):
        raise TypeError(f"dask backend: kill_grace must be a number of seconds, got {kill_grace!r}") from None
    quiet_distributed()
    quiet_asyncflow_shutdown()
    import dask

    if address is None:
        configured = dask.config.get("scheduler-address", None)
        if configured:
            address = str(configured)
            logger.info("dask backend: using the scheduler at %s (DASK_SCHEDULER_ADDRESS)", address)
    if address is not None and not isinstance(address, str):
        raise TypeError(f"dask backend: address must be a string like 'tcp://host:8786', got {address!r}")
    if address is None:
        from distributed import LocalCluster

        # distributed does not annotate LocalCluster; with asynchronous=True, awaiting it
        # starts the cluster and returns it
        start_cluster = cast(Callable[..., Awaitable[Any]], LocalCluster)
        try:
            cluster = await start_cluster(
                n_workers=n_workers,
                threads_per_worker=threads_per_worker,
                processes=processes,
                asynchronous=True,
                dashboard_address=":0" if dashboard else None,
                **client_options,
            )
        except RuntimeError as exc:
            if not processes:
                raise
            raise RuntimeError(
                f"dask backend: the LocalCluster's worker processes did not start ({exc}). Each worker process "
                "imports the campaign script again: keep its top level behind `if __name__ == \"__main__\":`, or "
                "use threads (processes=False, --backend-option processes=false), or an existing cluster "
                "(address=..., DASK_SCHEDULER_ADDRESS)"
            ) from exc
        backend = DaskBackend(cluster=cluster, own_cluster=True, kill_grace=kill_grace)
        try:
            await backend
        except BaseException:
            await _close(cluster)
            raise
        logger.info("Dask LocalCluster started: %d worker(s) at %s", n_workers, cluster.scheduler_address)
        _log_dashboard(backend.client)
        return backend
    backend = DaskBackend(resources={"address": address, **client_options}, kill_grace=kill_grace)
    try:
        await backend
    except OSError as exc:
        raise ConnectionError(
            f"dask backend: cannot reach the Dask scheduler at {address!r}: {exc}. Is `dask scheduler` running "
            "there (and DASK_SCHEDULER_ADDRESS / --backend-option address=... right)?"
        ) from exc
    logger.info("connected to the Dask scheduler at %s", address)
    _log_dashboard(backend.client)
    return backend
