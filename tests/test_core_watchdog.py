"""The task watchdog hears of ended commands in batches (``ended(..., soon=True)``), never out of
order, and reads its pipe in batches too: real watchdog processes and real process groups."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time

from rose import watchdog as watchdog_module
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


def test_news_written_faster_than_the_watchdog_reads_is_all_kept() -> None:
    """The watchdog drains its pipe every DRAIN_EVERY seconds, not per line: news of 60,000 short
    commands (more than the pipe holds) still arrives whole and in order, lines cut between two
    reads included, and the one group still running at the end is the one it ends."""
    watchdog = Watchdog(grace=0.5, owner="test")
    running = _group()
    try:
        started = time.monotonic()
        for fake in range(1_000_000, 1_060_000):  # ids no process has here: only the list changes
            watchdog.started(fake)
            watchdog.ended(fake)
        watchdog.started(running.pid)
        assert time.monotonic() - started < 30, "the writer waited on the watchdog far too long"
        watchdog.close()
        assert not _alive(running)
    finally:
        if running.poll() is None:
            os.killpg(running.pid, signal.SIGKILL)
        running.wait()


def test_a_line_cut_between_two_reads_is_read_whole() -> None:
    """Each part below is a separate read of the pipe (written DRAIN_EVERY apart)."""
    read_end, write_end = os.pipe()
    parts = [b"+ 4", b"5\n+ 12", b"3\n- 4", b"5\n+ 7\n"]  # +45 +123 -45 +7

    def write() -> None:
        for part in parts:
            os.write(write_end, part)
            time.sleep(watchdog_module.DRAIN_EVERY * 1.5)
        os.close(write_end)

    writer = threading.Thread(target=write)
    writer.start()
    groups: set[int] = set()
    try:
        watchdog_module._read_until_closed(read_end, groups)
    finally:
        writer.join()
        os.close(read_end)
    assert groups == {123, 7}
