"""Batch allocations of a campaign: the journal's ``allocation`` records and the batch jobs of backends.

A campaign that runs inside a batch allocation (Slurm: ``SLURM_JOB_ID`` is set) journals one
``allocation`` record each time it opens (start or resume)::

    {"type": "allocation", "time": T, "job_id": "1234", "scheduler": "slurm",
     "started": <unix s>, "deadline": <unix s or null>, "deadline_source": "slurm" | "user" | null}

:func:`allocation_record` builds it; :func:`allocation_chain` reads a journal's records back
as the campaign's chain of jobs (each with the stop reason that ended it), which ``rose runs``
and ``rose show`` print.

Backends whose work runs in batch jobs of their own (a RADICAL-Pilot pilot, dask-jobqueue
workers) describe each job with :func:`write_batch_job`; the records live in
``<runs folder>/.batch-jobs/`` and :func:`batch_jobs_during` finds the ones that overlap a
campaign (``rose show`` lists them).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterable, Mapping
from typing import Any

from rose.deadline import slurm_job_times

__all__ = [
    "BATCH_JOBS_FOLDER",
    "allocation_chain",
    "allocation_record",
    "batch_jobs_during",
    "campaign_jobs",
    "describe_jobs",
    "slurm_job_times",
    "write_batch_job",
]

#: the folder of the runs folder where backends describe their batch jobs
BATCH_JOBS_FOLDER = ".batch-jobs"


def allocation_record(environ: Mapping[str, str] | None = None, deadline: Any = None) -> dict[str, Any] | None:
    """The journal's ``allocation`` record of a campaign opening now, or ``None`` outside a batch
    job and without a deadline.

    Reads ``SLURM_JOB_ID`` from ``environ`` (default ``os.environ``); the job's start and end
    come from ``squeue``. ``deadline`` (a :class:`rose.deadline.Deadline`, the one the campaign
    keeps) gives ``deadline`` and ``deadline_source`` (``"user"`` or ``"slurm"``); without it they
    are the job's end (``"slurm"``), or ``None`` when Slurm does not say.
    """
    env = os.environ if environ is None else environ
    job_id = env.get("SLURM_JOB_ID") or None
    if job_id is None and deadline is None:
        return None
    started, end = slurm_job_times(job_id, env) if job_id else (None, None)
    now = time.time()
    if deadline is not None:
        end, source = deadline.at, deadline.source
    else:
        source = "slurm" if end is not None else None
    return {"type": "allocation", "time": now, "job_id": str(job_id) if job_id else None,
            "scheduler": "slurm" if job_id else None, "started": started if started is not None else now,
            "deadline": end, "deadline_source": source}


def allocation_chain(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The allocations of one journal, in order: job id, scheduler, start, deadline and stop reason.

    An allocation ends at the next ``stop`` record (``stop``: its reason) or the next
    ``allocation`` record (``stop``: ``None``, the job ended without a clean stop).
    """
    chain: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for record in records:
        kind = record.get("type")
        if kind == "allocation":
            current = {"job_id": str(record.get("job_id")), "scheduler": record.get("scheduler"),
                       "started": record.get("started"), "opened": record.get("time"),
                       "deadline": record.get("deadline"), "deadline_source": record.get("deadline_source"),
                       "stop": None, "stopped": None}
            chain.append(current)
        elif kind == "stop" and current is not None and current["stop"] is None:
            current["stop"], current["stopped"] = record.get("reason"), record.get("time")
    return chain


def _batch_jobs_folder(runs_folder: str | os.PathLike[str] | None) -> str:
    if runs_folder is None:
        from rose.engine import runs_root

        runs_folder = runs_root()
    return os.path.join(os.fspath(runs_folder), BATCH_JOBS_FOLDER)


def write_batch_job(record: Mapping[str, Any], runs_folder: str | os.PathLike[str] | None = None) -> str:
    """Write (or rewrite) a backend's batch-job record; returns its path.

    ``record`` needs ``backend``, ``name`` (unique for the backend in this process, e.g. the
    pilot id), ``job_id`` (``None`` while not known), ``submitted``, ``started`` and ``ended``
    (unix seconds or ``None``); anything else is kept. Written atomically, so a reader never
    sees half a record.
    """
    folder = _batch_jobs_folder(runs_folder)
    os.makedirs(folder, exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{record.get('backend')}-{record.get('name')}-{os.getpid()}")
    path = os.path.join(folder, f"{stem}.json")
    temporary = f"{path}.tmp"
    with open(temporary, "w") as handle:
        json.dump(dict(record), handle, default=str)
    os.replace(temporary, path)
    return path


def batch_jobs_during(started: float | None, ended: float | None,
                      runs_folder: str | os.PathLike[str] | None = None) -> list[dict[str, Any]]:
    """The batch-job records whose time overlaps ``[started, ended]`` (``ended`` ``None``: until now).

    A backend's job is submitted before its campaign opens and ends after it closes, so the
    jobs of a campaign are the ones alive while it ran. Sorted by submission time.
    """
    if started is None:
        return []
    end = time.time() if ended is None else ended
    folder = _batch_jobs_folder(runs_folder)
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    jobs = []
    for name in names:
        if not name.endswith(".json"):
            continue
        try:
            with open(os.path.join(folder, name)) as handle:
                job = json.load(handle)
        except (OSError, ValueError):
            continue
        if not isinstance(job, dict):
            continue
        job_start = job.get("submitted")
        job_end = job.get("ended")
        if not isinstance(job_start, (int, float)) or job_start > end:
            continue
        if isinstance(job_end, (int, float)) and job_end < started:
            continue
        jobs.append(job)
    return sorted(jobs, key=lambda job: float(job.get("submitted") or 0))


def _chain_jobs(run_path: str) -> list[dict[str, Any]]:
    """The jobs ``rose submit`` chains ran for the campaign at ``run_path`` (from their ``chain.json``)."""
    runs_folder, name = os.path.split(os.path.normpath(run_path))
    folder = os.path.join(runs_folder, ".chains")
    try:
        chains = sorted(os.listdir(folder))
    except OSError:
        return []
    jobs = []
    for chain_name in chains:
        try:
            with open(os.path.join(folder, chain_name, "chain.json")) as handle:
                chain = json.load(handle)
        except (OSError, ValueError):
            continue
        if not isinstance(chain, dict) or chain.get("campaign") != name:
            continue
        for job in chain.get("jobs") or ():
            jobs.append({"job_id": str(job.get("job_id")), "started": job.get("started"), "exit": job.get("exit"),
                         "stop": None, "deadline": None})
    return sorted(jobs, key=lambda job: float(job.get("started") or 0))


def campaign_jobs(run_path: str, records: Iterable[Mapping[str, Any]] = ()) -> list[dict[str, Any]]:
    """The chain of batch jobs of one campaign: its ``allocation`` records (see :func:`allocation_chain`),
    else the jobs of the ``rose submit`` chains that ran it (each with ``exit``, ``rose run``'s exit code)."""
    chain = allocation_chain(records)
    return chain if chain else _chain_jobs(run_path)


def describe_jobs(jobs: Iterable[Mapping[str, Any]]) -> str:
    """``job 12 (deadline) -> job 13 (criterion_met)``: a chain of jobs in one line."""
    parts = []
    for job in jobs:
        how = job.get("stop") or (f"exit {job['exit']}" if job.get("exit") is not None else "running or killed")
        parts.append(f"job {job.get('job_id')} ({how})")
    return " -> ".join(parts)
