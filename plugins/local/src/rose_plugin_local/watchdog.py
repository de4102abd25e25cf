"""The local backend's watchdog: ends a campaign's task processes when the campaign dies.

Started once per :class:`~rose_plugin_local.backend.LocalBackend` as
``python -I watchdog.py GRACE`` (isolated mode: nothing is imported from the current
directory), in its own session, ignoring SIGINT, SIGHUP and SIGTERM so that what kills
the campaign does not kill it too. The backend writes one line per event to its stdin:

``+ PGID``  a task's process group was started
``- PGID``  that group's leader has ended (forget it)

When stdin reaches end of file (the backend shut down, or the campaign process died,
however: ``kill -9`` included) every group still listed gets SIGTERM, and SIGKILL after
``GRACE`` seconds; then the watchdog exits. Only the standard library, on purpose.
"""

from __future__ import annotations

import os
import signal
import sys
import time


def _signal(groups: set[int], sig: int) -> set[int]:
    alive = set()
    for pgid in groups:
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            continue
        except PermissionError:
            continue
        alive.add(pgid)
    return alive


def _any_alive(groups: set[int]) -> bool:
    for pgid in groups:
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            continue
        return True
    return False


def main(argv: list[str]) -> int:
    """Read events until EOF, then end the groups still running."""
    grace = float(argv[1]) if len(argv) > 1 else 2.0
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    groups: set[int] = set()
    for line in sys.stdin.buffer:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            continue
        pgid = int(parts[1])
        if parts[0] == b"+":
            groups.add(pgid)
        elif parts[0] == b"-":
            groups.discard(pgid)
    alive = _signal(groups, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while alive and time.monotonic() < deadline and _any_alive(alive):
        time.sleep(0.05)
    _signal(alive, signal.SIGKILL)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
