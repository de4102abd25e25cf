"""How the ``local`` backend starts and watches commands: no thread per process, nothing leaked.

The backend watches each command's exit through a pidfd on the event loop (Linux >= 5.3)
and falls back to asyncio's subprocess support elsewhere; both paths must behave the same.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from pathlib import Path

import pytest
import rose_plugin_local.children as local_children

from rose.engine import engine as make_engine
from rose.errors import TaskFailedError
from rose.learner import Learner
from rose.testing.backend import processes_running, unique_sleep, wait_until

WATCHERS = ["pidfd", "asyncio"]


@pytest.fixture(params=WATCHERS)
def watcher(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """Run the test with pidfds (where the kernel has them) and with asyncio's fallback."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ROSE_RUNS_DIR", str(tmp_path / "runs"))
    if request.param == "pidfd":
        if not local_children._pidfd_supported():
            pytest.skip("this kernel has no pidfd_open (Linux < 5.3): only the asyncio fallback runs here")
    else:
        # a kernel without pidfds cannot be produced on this machine: pretend the check failed
        monkeypatch.setattr(local_children, "_PIDFD", False)
    return str(request.param)


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_output_exit_code_and_stderr_reach_the_task(watcher: str, tmp_path: Path) -> None:
    async with make_engine("local", work_dir=str(tmp_path)) as engine:
        learner = Learner(engine, run_dir=tmp_path / "run")

        @learner.training_task
        async def ok() -> list[str]:
            return ["sh", "-c", "echo out; echo err >&2"]

        @learner.training_task
        async def broken() -> list[str]:
            return ["sh", "-c", "echo partial; echo 'disk full' >&2; exit 3"]

        assert await ok() == "out\n"
        with pytest.raises(TaskFailedError, match=r"(?s)exit code: 3.*disk full") as info:
            await broken()
        assert info.value.exit_code == 3


async def test_megabytes_on_both_streams_are_read_whole(watcher: str, tmp_path: Path) -> None:
    """Both pipes are drained together, so a chatty command never blocks on a full pipe."""
    script = (
        "import sys\n"
        "for _ in range(2000):\n"
        "    sys.stdout.write('o' * 999 + '\\n'); sys.stderr.write('e' * 999 + '\\n')\n"
    )
    async with make_engine("local", work_dir=str(tmp_path)) as engine:
        learner = Learner(engine, run_dir=tmp_path / "run")

        @learner.training_task(timeout=60)
        async def chatty() -> list[str]:
            return [sys.executable, "-c", script]

        out = await chatty()
        assert len(out) == 2000 * 1000 and set(out) == {"o", "\n"}


async def test_output_of_a_background_child_is_waited_for(watcher: str, tmp_path: Path) -> None:
    """As with ``communicate()``: the result is complete when every writer has closed stdout."""
    async with make_engine("local", work_dir=str(tmp_path)) as engine:
        learner = Learner(engine, run_dir=tmp_path / "run")

        @learner.training_task
        async def forks() -> list[str]:
            return ["sh", "-c", "echo first; (sleep 0.3; echo second) &"]

        assert await forks() == "first\nsecond\n"


async def test_commands_in_flight_start_no_thread_each_and_leak_no_descriptor(tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Many commands at once (parallel learners) cost no thread per process, and nothing is left open."""
    if not local_children._pidfd_supported():
        pytest.skip("this kernel has no pidfd_open (Linux < 5.3): asyncio's fallback starts a thread per process")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ROSE_RUNS_DIR", str(tmp_path / "runs"))
    marker = unique_sleep(1)
    async with make_engine("local", work_dir=str(tmp_path), max_workers=40) as engine:
        learner = Learner(engine, run_dir=tmp_path / "run")

        @learner.training_task
        async def sleeper() -> list[str]:
            return ["sleep", marker]

        await sleeper()  # the watchdog process and its pipe exist from here on
        threads, fds = threading.active_count(), _open_fds()
        running = asyncio.gather(*(sleeper() for _ in range(40)))
        assert await wait_until(lambda: len(processes_running(marker)) == 40, 10)
        assert threading.active_count() <= threads + 1  # + asyncflow's or the loop's own helper, at most
        assert await running == [""] * 40
        assert _open_fds() == fds


async def test_cancelling_ends_the_command_in_both_watchers(watcher: str, tmp_path: Path) -> None:
    marker = unique_sleep()
    async with make_engine("local", work_dir=str(tmp_path), kill_grace=0.5) as engine:
        learner = Learner(engine, run_dir=tmp_path / "run")

        @learner.training_task(timeout=0.5)
        async def slow() -> list[str]:
            return ["sh", "-c", f"sleep {marker}; echo late"]

        with pytest.raises(TimeoutError):
            await slow()
        assert await wait_until(lambda: not processes_running(marker), 5)
