"""Tasks die with their campaign (issue 14): ``kill -9`` of the campaign ends its task processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from rose_plugin_local import LocalBackend

from rose.testing.backend import processes_running, unique_sleep

CAMPAIGN = """
    import asyncio, sys
    import rose
    from rose.learner import Learner

    async def main():
        async with rose.engine("local", max_workers=2) as engine:
            learner = Learner(engine, run_dir="run")

            @learner.training_task
            async def long():
                # a shell with a child: the whole process group must end, not only the leader
                return ["sh", "-c", "sleep {duration} & sleep {duration}; wait"]

            await long()

    asyncio.run(main())
"""


def wait_for(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGHUP])
def test_killing_the_campaign_ends_its_tasks(tmp_path: Path, sig: int) -> None:
    duration = unique_sleep()
    script = tmp_path / "campaign.py"
    script.write_text(textwrap.dedent(CAMPAIGN).format(duration=duration))
    env = {**os.environ, "ROSE_RUNS_DIR": str(tmp_path / "runs")}
    campaign = subprocess.Popen([sys.executable, str(script)], cwd=tmp_path, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert wait_for(lambda: len(processes_running(duration)) == 2, 30), "the task never started"
        campaign.send_signal(sig)
        campaign.wait(10)
        assert wait_for(lambda: not processes_running(duration), 6), (
            f"`sleep {duration}` outlived its campaign (signal {sig}): {processes_running(duration)}"
        )
    finally:
        if campaign.poll() is None:
            campaign.kill()
            campaign.wait()
        for pid in processes_running(duration):
            os.kill(pid, signal.SIGKILL)


async def test_rose_on_spawn_reports_pid_group_and_start_time(tmp_path: Path) -> None:
    """The core's ``rose_on_spawn`` hook gets what it needs to reap a group on resume."""
    import asyncio

    backend = await LocalBackend(max_workers=1)
    seen: list[dict[str, Any]] = []
    done: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    backend.register_callback(lambda task, state: done.set_result(state) if state in ("DONE", "FAILED") else None)
    try:
        await backend.submit_tasks([{
            "uid": "task.spawn", "name": "spawn", "function": None, "args": (), "kwargs": {},
            "executable": "sh", "arguments": ["-c", "sleep 0.3"], "is_service": False,
            "task_backend_specific_kwargs": {"shell": False}, "capture_stdio": False,
            "rose_on_spawn": seen.append,
        }])
        assert await asyncio.wait_for(done, 10) == "DONE"
    finally:
        await backend.shutdown()
    assert len(seen) == 1
    info = seen[0]
    assert info["pid"] == info["pgid"] and isinstance(info["start_time"], int) and info["start_time"] > 0


async def test_a_command_that_ends_at_once_is_not_reported_for_the_journal(tmp_path: Path) -> None:
    """Only commands still running after SPAWN_RECORD_DELAY are reported (journaled): the
    watchdog covers every command from its spawn, so the quick ones need no record."""
    import asyncio

    backend = await LocalBackend(max_workers=1)
    seen: list[dict[str, Any]] = []
    states: list[str] = []
    finished = asyncio.Event()

    def callback(task: dict[str, Any], state: str) -> None:
        if state in ("DONE", "FAILED"):
            states.append(state)
            finished.set()

    backend.register_callback(callback)
    try:
        await backend.submit_tasks([{
            "uid": "task.quick", "name": "quick", "function": None, "args": (), "kwargs": {},
            "executable": "true", "arguments": [], "is_service": False,
            "task_backend_specific_kwargs": {"shell": False}, "capture_stdio": False,
            "rose_on_spawn": seen.append,
        }])
        await asyncio.wait_for(finished.wait(), 10)
        await asyncio.sleep(0.1)  # well past the delay: a forgotten timer would report it now
    finally:
        await backend.shutdown()
    assert states == ["DONE"] and seen == []
