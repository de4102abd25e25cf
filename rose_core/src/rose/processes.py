"""Task processes left behind by a killed campaign: the one ``/proc`` start-time parser and the reaper.

A backend that spawns commands journals each process with its process group and the start
time of its leader (:func:`process_start_time`); a resume ends those still running
(:func:`reap_processes`) without touching a process id the system has since given to
another program.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["process_start_time", "reap_processes"]

logger = logging.getLogger("rose.processes")


def process_start_time(pid: int) -> int | None:
    """Field 22 of ``/proc/<pid>/stat`` (start time in clock ticks since boot); None off Linux or when gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            text = handle.read()
    except OSError:
        return None
    fields = text[text.rfind(b")") + 2:].split()  # the command name in parentheses may hold spaces
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def reap_processes(processes: Iterable[Mapping[str, Any]]) -> None:
    """End task processes a killed campaign left running, before anything runs again.

    Each is identified by its process group and the start time of its leader, so a process id
    that the system has since given to another program is left alone.
    """
    for record in processes:
        pgid, pid, started = record.get("pgid"), record.get("pid"), record.get("start_time")
        if not isinstance(pgid, int) or not isinstance(pid, int) or pgid <= 1:
            continue
        if record.get("host") not in (None, os.uname().nodename):
            continue  # started on another machine (a Dask worker there ends it itself)
        if started is not None and process_start_time(pid) != started:
            continue
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            continue
        logger.warning(
            "ended task %r (process group %d) of iteration %s, still running from the interrupted campaign",
            record.get("task"), pgid, record.get("iteration"),
        )
