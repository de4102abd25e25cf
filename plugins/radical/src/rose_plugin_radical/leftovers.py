"""The processes a local pilot leaves behind when its session closes.

On ``local.*`` resources the pilot's agent runs on this machine, started by a fork of the
session. When the agent fails while it starts (seen: a bash "bad substitution" in the
environment script the pilot copies from the campaign's environment), RADICAL-Pilot marks
the pilot FAILED and closes the session, but agent components it had already started keep
running (``rp.agent_executing``, which ignores SIGTERM) with nobody left to end them. They
are found by what every agent process has: ``RP_PILOT_ID`` in its environment (set by the
pilot's bootstrap script) and a working directory inside the pilot's sandbox.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time

__all__ = ["end_pilot_processes", "pilot_processes"]

logger = logging.getLogger(__name__)


def pilot_processes(pilot_uid: str, sandbox: str) -> list[int]:
    """This user's processes whose environment names ``pilot_uid`` and whose working directory is
    in ``sandbox`` (Linux ``/proc``; empty elsewhere)."""
    if not os.path.isdir("/proc"):
        return []
    sandbox = os.path.realpath(sandbox)
    marker = f"RP_PILOT_ID={pilot_uid}".encode()
    me, user = os.getpid(), os.getuid()
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            if entry.stat().st_uid != user:
                continue
            cwd = os.readlink(os.path.join(entry.path, "cwd"))
            if cwd != sandbox and not cwd.startswith(sandbox + os.sep):
                continue
            with open(os.path.join(entry.path, "environ"), "rb") as handle:
                environment = handle.read().split(b"\0")
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if marker in environment:
            found.append(int(entry.name))
    return found


def end_pilot_processes(pilot_uid: str, sandbox: str, wait: float = 2.0, grace: float = 1.0) -> list[int]:
    """End what :func:`pilot_processes` finds still running ``wait`` seconds on (an agent that is
    stopping normally is given that long): SIGTERM, then SIGKILL after ``grace`` seconds; the pids."""
    alive = _still_running(pilot_processes(pilot_uid, sandbox), wait)
    if not alive:
        return []
    pids = list(alive)
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
    alive = _still_running(pids, grace)
    for pid in alive:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    logger.warning("pilot %s left %d process(es) running after its session closed (%s); ended them%s",
                   pilot_uid, len(pids), ", ".join(map(str, pids)),
                   f" ({len(alive)} with SIGKILL)" if alive else "")
    return pids


def _still_running(pids: list[int], seconds: float) -> list[int]:
    """Those of ``pids`` still running after up to ``seconds`` (returns as soon as none is)."""
    deadline = time.monotonic() + seconds
    alive = [pid for pid in pids if _running(pid)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = [pid for pid in alive if _running(pid)]
    return alive


def _running(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return False
