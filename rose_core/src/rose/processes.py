"""Task processes left behind by a killed campaign: the one ``/proc`` start-time parser and the reaper.

A backend that spawns commands journals each process with its process group and the start
time of its leader (:func:`process_start_time`), and the host and campaign process that
started it (:func:`owner_record`). A resume ends those still running (:func:`reap_leftovers`),
safely: only once the resuming campaign holds the directory's lock (a second resume of a
running campaign is refused before it gets there), and never a process that

* ran on another host (a process id there means nothing here),
* is no longer the process the journal names (its id was given to another program since), or
* belongs to a campaign process that is still alive (its owner, identified the same way).
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rose.journal import Journal

__all__ = ["owner_record", "process_start_time", "reap_leftovers"]

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


_owner: dict[str, Any] = {}


def owner_record() -> dict[str, Any]:
    """What a ``process`` line records of the campaign process that started the task (read once per process)."""
    pid = os.getpid()
    if _owner.get("owner") != pid:
        _owner.update(host=os.uname().nodename, owner=pid, owner_start=process_start_time(pid))
    return dict(_owner)


def _is(pid: Any, started: Any) -> bool:
    """True when process ``pid`` exists and is the one that started at ``started`` (if known)."""
    if not isinstance(pid, int) or pid <= 1:
        return False
    now = process_start_time(pid)
    return now is not None and (started is None or now == started)


#: reasons to leave a recorded process alone that need no warning: there is nothing to end
_NOTHING_THERE = ("the journal has no process group for it", "it is gone")


def _why_spared(record: Mapping[str, Any], host: str) -> str | None:
    """Why the process of ``record`` must be left alone (None: it is a leftover to end)."""
    pgid, pid = record.get("pgid"), record.get("pid")
    if not isinstance(pgid, int) or not isinstance(pid, int) or pgid <= 1:
        return _NOTHING_THERE[0]
    if record.get("host") not in (None, host):
        return f"it ran on host {record.get('host')}"
    if not _is(pid, record.get("start_time")):
        return _NOTHING_THERE[1]
    owner = record.get("owner")
    if owner != os.getpid() and _is(owner, record.get("owner_start")):
        return f"the campaign process {owner} that started it is still alive"
    return None


def reap_leftovers(processes: Iterable[Mapping[str, Any]], journal: Journal | None) -> list[dict[str, Any]]:
    """End the task processes (``process`` records of a resumed journal) an interrupted campaign left running.

    ``journal`` is the resuming campaign's, already open: a top-level journal must hold the
    directory's lock (RuntimeError otherwise), a child's is covered by its parent's lock.
    Returns the process records it ended.
    """
    if journal is None or not (journal.child or journal.locked):
        raise RuntimeError("reap_leftovers runs only after the campaign has taken its directory's lock")
    host = os.uname().nodename
    ended = []
    for record in processes:
        why = _why_spared(record, host)
        if why is not None:
            if why not in _NOTHING_THERE:
                logger.warning("left task %r of iteration %s (process group %s) alone: %s",
                               record.get("task"), record.get("iteration"), record.get("pgid"), why)
            continue
        try:
            os.killpg(int(record["pgid"]), signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            continue
        ended.append(dict(record))
        logger.warning(
            "ended task %r (process group %d) of iteration %s, still running from the interrupted campaign",
            record.get("task"), record["pgid"], record.get("iteration"),
        )
    return ended
