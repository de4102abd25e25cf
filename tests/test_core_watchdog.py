"""The task watchdog hears of ended commands in batches (``ended(..., soon=True)``), never out of
order: real watchdog processes and real process groups."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from rose.watchdog import Watchdog


def _group() -> subprocess.Popen[bytes]:
    return subprocess.Popen(["sleep", "60"], start_new_session=True)


def _alive(process: subprocess.Popen[bytes], within: float = 5.0) -> bool:
    """False once ``process`` has ended (waiting up to ``within`` seconds for it to end)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        time.sleep(0.05)
    return True


def test_a_batched_end_goes_out_with_the_next_start_and_at_close() -> None:
    watchdog = Watchdog(grace=0.5, owner="test")
    told_ended, next_one, last = _group(), _group(), _group()
    try:
        watchdog.started(told_ended.pid)
        watchdog.ended(told_ended.pid, soon=True)  # still running: only the watchdog's list changes
        watchdog.started(next_one.pid)  # carries the waiting "- PGID" first
        watchdog.started(last.pid)
        watchdog.ended(last.pid, soon=True)  # nothing written after it: close() must deliver it
        watchdog.close()  # the watchdog ends what it still lists: next_one only
        assert not _alive(next_one)
        assert _alive(told_ended, within=0.5) and _alive(last, within=0.1)
    finally:
        for process in (told_ended, next_one, last):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
