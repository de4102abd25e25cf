"""``DaskBackend``: rhapsody-py's Dask backend with killable commands and owned clusters.

rhapsody's :class:`~rhapsody.backends.DaskExecutionBackend` does run executables (through
``subprocess.run`` inside a worker thread) and honours ``cwd``/``env``/``shell``. What this
subclass changes:

* **Cancellation kills the command.** A running Dask task cannot be interrupted, so the
  command runs through :func:`rose_plugin_dask.worker.run_command` in its own process
  group, and cancelling the task (a ``timeout``, a ``break``, shutdown) signals that group
  on the workers (SIGTERM, SIGKILL after ``kill_grace`` seconds).
* ``env`` is added to the worker's environment instead of replacing it.
* Function tasks get only the description keys ``Client.submit`` accepts (``resources``,
  ``workers``, ``retries``, ...), so a ``cwd`` or ``env`` request cannot break submission.
* A GPU request no worker offers fails the task with :class:`~rose.errors.ResourceError`.
* With no address, the backend starts a ``LocalCluster`` and closes it on shutdown.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from rhapsody.backends.execution.dask_parallel import DaskExecutionBackend

from rose.errors import ResourceError
from rose_plugin_dask.worker import kill_command, run_command

__all__ = ["DaskBackend", "create_backend"]

logger = logging.getLogger(__name__)

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

    def _key(self, uid: str) -> str:
        return f"{uid}-{self._token}"

    @property
    def client(self) -> Any:
        """The ``distributed.Client`` (asynchronous) this backend submits to."""
        return self._client

    async def submit_tasks(self, tasks: list[dict[str, Any]]) -> None:
        """Refuse what no worker offers, then submit the rest through rhapsody."""
        accepted = []
        for task in tasks:
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
            options = dict(task.get("task_backend_specific_kwargs") or {})
            options.setdefault("key", self._key(task["uid"]))
            task["task_backend_specific_kwargs"] = options
            accepted.append(task)
        if accepted:
            await super().submit_tasks(accepted)

    async def _submit_executable(self, task: dict[str, Any]) -> None:
        options = task.get("task_backend_specific_kwargs") or {}
        argv = [str(task["executable"]), *(str(a) for a in task.get("arguments") or ())]
        fn_kwargs = {
            "cwd": options.get("cwd"),
            "env": options.get("env"),
            "shell": bool(options.get("shell", False)),
            "capture_dir": self._work_dir if task.get("capture_stdio") else None,
        }
        await self._submit_and_track(task, run_command, (argv, self._key(task["uid"])), kind="executable", fn_kwargs=fn_kwargs)

    async def _submit_function(self, task: dict[str, Any]) -> None:
        options = task.get("task_backend_specific_kwargs") or {}
        task["task_backend_specific_kwargs"] = {k: v for k, v in options.items() if k in SUBMIT_KEYS}
        await super()._submit_function(task)

    async def cancel_task(self, uid: str) -> bool:
        """Cancel the Dask future and kill the task's command on whichever worker runs it."""
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
        await super().shutdown()
        if self._own_cluster and cluster is not None:
            await cluster.close()
            logger.info("Dask LocalCluster closed")


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

    With ``address`` (``"tcp://host:8786"``) it connects to that scheduler;
    ``client_options`` go to ``distributed.Client``. Without, it starts a
    ``LocalCluster`` of ``n_workers`` worker processes (``processes=False``: threads)
    with ``threads_per_worker`` threads each, closed when the engine shuts down.
    """
    if address is None:
        from distributed import LocalCluster

        cluster = await LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=n_workers,
            threads_per_worker=threads_per_worker,
            processes=processes,
            asynchronous=True,
            dashboard_address=None,
            **client_options,
        )
        backend = DaskBackend(cluster=cluster, own_cluster=True, kill_grace=kill_grace)
        try:
            await backend
        except BaseException:
            await cluster.close()  # type: ignore[misc]
            raise
        logger.info("Dask LocalCluster started: %d worker(s) at %s", n_workers, cluster.scheduler_address)
        return backend
    backend = DaskBackend(resources={"address": address, **client_options}, kill_grace=kill_grace)
    await backend
    logger.info("connected to the Dask scheduler at %s", address)
    return backend
