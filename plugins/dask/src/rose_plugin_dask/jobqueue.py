"""Dask workers as Slurm batch jobs (dask-jobqueue's ``SLURMCluster``).

``rose.engine("dask", cluster="slurm", jobs=2, cores=4, memory="8GB", walltime="01:00:00")``
or ``rose run wf.py --backend dask --backend-option cluster=slurm --backend-option jobs=2``:
the Dask scheduler runs in the campaign's process, each of ``jobs`` batch jobs runs one
Dask worker with ``cores`` threads (``processes`` worker processes per job when asked).
Tasks start as soon as the first worker job is running; while none is, a line every
:data:`WAITING_EVERY` seconds says how long the jobs have been queued. Each worker job is
recorded for ``rose show`` (:func:`rose.allocation.write_batch_job`); the jobs are
cancelled when the engine shuts down.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import sys
import time
from typing import Any

from rose.allocation import write_batch_job

__all__ = ["CLUSTERS", "WAITING_EVERY", "start_jobqueue_backend"]

lifecycle = logging.getLogger("rose.lifecycle.dask")

#: the ``cluster=`` values and the dask-jobqueue class each starts
CLUSTERS = {"slurm": "SLURMCluster"}
#: seconds between two "still queued" lines while no worker job runs yet
WAITING_EVERY = 30.0


def _whole(option: str, value: Any, minimum: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise TypeError(f"dask backend: {option} must be a whole number >= {minimum}, got {value!r}") from None
    if isinstance(value, bool) or number < minimum:
        raise ValueError(f"dask backend: {option} must be a whole number >= {minimum}, got {value!r}")
    return number


async def start_jobqueue_backend(
    cluster: str,
    *,
    jobs: Any = 1,
    cores: Any = 1,
    memory: str = "1GB",
    processes: Any = 1,
    walltime: str = "00:30:00",
    kill_grace: float = 2.0,
    **options: Any,
) -> Any:
    """A :class:`~rose_plugin_dask.backend.DaskBackend` on ``jobs`` worker batch jobs (see the module doc).

    ``options`` go to the dask-jobqueue cluster class (``queue``, ``account``,
    ``job_extra_directives``, ``job_script_prologue``, ...); an unknown one is an error
    naming the valid ones.
    """
    if cluster not in CLUSTERS:
        raise ValueError(f"dask backend: cluster={cluster!r} is not known; use one of {', '.join(sorted(CLUSTERS))} "
                         "(or address=... for a running scheduler, or neither for a LocalCluster)")
    jobs, cores, processes = _whole("jobs", jobs, 1), _whole("cores", cores, 1), _whole("processes", processes, 1)
    try:
        import dask_jobqueue
    except ImportError as exc:  # pragma: no cover - a dependency of this plugin
        raise ImportError(f"dask backend: cluster={cluster!r} needs dask-jobqueue: pip install dask-jobqueue ({exc})") from exc
    from rose_plugin_dask.backend import DaskBackend, _close

    cluster_class = getattr(dask_jobqueue, CLUSTERS[cluster])

    accepted = set(inspect.signature(cluster_class.__init__).parameters)
    accepted |= set(inspect.signature(dask_jobqueue.core.JobQueueCluster.__init__).parameters)
    accepted |= set(inspect.signature(dask_jobqueue.core.Job.__init__).parameters)
    accepted |= set(inspect.signature(cluster_class.job_cls.__init__).parameters)
    accepted |= {"jobs", "cores", "memory", "processes", "walltime"}
    unknown = sorted(set(options) - accepted)
    if unknown:
        valid = sorted(a for a in accepted if not a.startswith("_") and a not in ("self", "kwargs", "args"))
        raise TypeError(f"dask backend: unknown option(s) {unknown} for cluster={cluster!r}; dask-jobqueue's "
                        f"{CLUSTERS[cluster]} takes: {', '.join(valid)}")
    options.setdefault("python", sys.executable)
    options.setdefault("scheduler_options", {"host": "127.0.0.1"} if os.environ.get("SLURM_CONF") else {})
    job_cluster = await cluster_class(cores=cores, memory=str(memory), processes=processes, walltime=str(walltime),
                                      asynchronous=True, **options)
    submitted = time.time()
    try:
        scaled = job_cluster.scale(jobs=jobs)
        if inspect.isawaitable(scaled):
            await scaled
        backend = _jobqueue_backend_class(DaskBackend)(cluster=job_cluster, own_cluster=True, kill_grace=kill_grace)
        await backend
        lifecycle.info("Dask on %s: %d worker job(s) submitted (%d core(s), %s, %s each); scheduler at %s",
                       cluster, jobs, cores, memory, walltime, job_cluster.scheduler_address)
        await _wait_for_a_worker(backend.client, job_cluster, cluster, submitted)
    except BaseException:
        await _close(job_cluster)
        raise
    backend.job_records = _record_jobs(job_cluster, cluster, submitted)
    return backend


def _jobqueue_backend_class(base: type) -> type:
    """``base`` (DaskBackend) whose shutdown also records the end of its worker jobs."""

    class JobqueueBackend(base):  # type: ignore[misc, valid-type]
        """A DaskBackend on batch-job workers; shutting down cancels the jobs and records their end."""

        job_records: list[dict[str, Any]] = []

        async def shutdown(self) -> None:
            """Close the client and the cluster (cancelling its jobs), then record their end."""
            try:
                await super().shutdown()
            finally:
                ended = time.time()
                for record in self.job_records:
                    record["ended"] = ended
                    record["states"].append({"state": "ended", "time": ended})
                    write_batch_job(record)

    return JobqueueBackend


async def _wait_for_a_worker(client: Any, job_cluster: Any, cluster: str, submitted: float) -> None:
    """Wait until one worker job runs, saying every :data:`WAITING_EVERY` s that they are queued."""
    while True:
        try:
            await client.wait_for_workers(1, timeout=WAITING_EVERY)
        except (asyncio.TimeoutError, TimeoutError):
            lifecycle.info("Dask on %s: worker job(s) %s still queued after %.0f s; tasks start when one runs",
                           cluster, ", ".join(_job_ids(job_cluster)) or "(ids not known yet)", time.time() - submitted)
            continue
        lifecycle.info("Dask on %s: first worker (batch job(s) %s) up after %.0f s", cluster,
                       ", ".join(_job_ids(job_cluster)) or "?", time.time() - submitted)
        return


def _job_ids(job_cluster: Any) -> list[str]:
    return [str(job.job_id) for job in list(getattr(job_cluster, "workers", {}).values())
            if getattr(job, "job_id", None)]


def _record_jobs(job_cluster: Any, cluster: str, submitted: float) -> list[dict[str, Any]]:
    started = time.time()
    records = []
    for name, job in list(getattr(job_cluster, "workers", {}).items()):
        records.append({"kind": "workers", "backend": "dask", "name": str(name), "resource": cluster,
                         "job_id": getattr(job, "job_id", None), "submitted": submitted, "started": started,
                         "ended": None, "queued_seconds": round(started - submitted, 3),
                        "states": [{"state": "running", "time": started}], "pid": os.getpid()})
        write_batch_job(records[-1])
    return records
