"""Commands waiting for a core: first come, first served, held without a coroutine each,
started from the loop turn that frees a core, and cancellable while they wait."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from rose.engine import engine as make_engine
from rose.errors import TaskFailedError
from rose.learner import Learner
from rose.testing.backend import processes_running, unique_sleep, wait_until


async def _blocker_running(learner: Learner, token: str) -> asyncio.Future[Any]:
    """A one-core ``sleep <token>`` command of ``learner``, once its process runs."""

    @learner.simulation_task
    async def blocker() -> list[str]:
        return ["sleep", token]

    running = asyncio.ensure_future(blocker())
    assert await wait_until(lambda: processes_running(token), 5)
    return running


async def test_waiting_commands_start_in_the_order_they_were_submitted(workdir: Path) -> None:
    log = workdir / "order.log"
    async with make_engine("local", work_dir=str(workdir), max_workers=1) as engine:
        learner = Learner(engine, run_dir=workdir / "run")

        @learner.simulation_task
        async def mark(i: int) -> list[str]:
            return ["sh", "-c", f'echo {i} >> "{log}"']

        await asyncio.gather(*(mark(i) for i in range(12)))
    assert log.read_text().split() == [str(i) for i in range(12)]


async def test_commands_waiting_for_a_core_hold_no_asyncio_task_each(workdir: Path) -> None:
    async with make_engine("local", work_dir=str(workdir), max_workers=1) as engine:
        learner = Learner(engine, run_dir=workdir / "run")

        @learner.simulation_task
        async def short(i: int) -> list[str]:
            return ["sleep", "0.05"]

        before = len(asyncio.all_tasks())
        waiting = [asyncio.ensure_future(short(i)) for i in range(100)]
        await asyncio.sleep(0)  # all submitted in that turn: one runs, 99 wait for the core
        assert len(engine.backend.tasks) == 100
        # one task per caller (the ensure_future above), none in the backend per command
        assert len(asyncio.all_tasks()) - before <= 100 + 2
        assert await asyncio.gather(*waiting) == [""] * 100


async def test_a_cancelled_waiting_command_never_starts_and_does_not_hold_up_the_queue(workdir: Path) -> None:
    """A two-core command waits behind a running one; cancelling it lets the one-core command
    queued behind it start at once on the free core (not when the running one ends)."""
    token = unique_sleep(5)
    async with make_engine("local", work_dir=str(workdir), max_workers=2) as engine:
        learner = Learner(engine, run_dir=workdir / "run")

        @learner.training_task(resources={"cores": 2})
        async def wide() -> list[str]:
            return ["touch", str(workdir / "wide-ran")]

        @learner.training_task
        async def narrow() -> list[str]:
            return ["echo", "narrow"]

        running = await _blocker_running(learner, token)
        waiting_wide = asyncio.ensure_future(wide())
        waiting_narrow = asyncio.ensure_future(narrow())
        await asyncio.sleep(0.1)
        assert not waiting_narrow.done()  # behind the wide one: first come, first served
        started = time.monotonic()
        waiting_wide.cancel()
        assert await asyncio.wait_for(waiting_narrow, 3) == "narrow\n"
        assert time.monotonic() - started < 3  # the blocker still runs (5 s)
        assert processes_running(token)
        with pytest.raises(asyncio.CancelledError):
            await waiting_wide
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
    assert not (workdir / "wide-ran").exists()
    assert not processes_running(token)


async def test_a_waiting_command_that_cannot_start_fails_alone_and_frees_its_core(workdir: Path) -> None:
    async with make_engine("local", work_dir=str(workdir), max_workers=1) as engine:
        learner = Learner(engine, run_dir=workdir / "run")

        @learner.simulation_task
        async def first() -> list[str]:
            return ["sleep", "0.2"]

        @learner.training_task
        async def missing() -> list[str]:
            return ["rose-test-no-such-command"]

        @learner.training_task
        async def after(i: int) -> list[str]:
            return ["echo", str(i)]

        results = await asyncio.gather(first(), missing(), after(1), after(2), return_exceptions=True)
        assert results[0] == ""
        assert isinstance(results[1], TaskFailedError) and "command not found" in str(results[1])
        assert results[2:] == ["1\n", "2\n"]
        assert engine.backend._slots.free == 1  # nothing leaked


async def test_shutdown_with_commands_waiting_starts_none_of_them(workdir: Path) -> None:
    token = unique_sleep(60)
    async with make_engine("local", work_dir=str(workdir), max_workers=1, kill_grace=0.5) as engine:
        learner = Learner(engine, run_dir=workdir / "run")

        @learner.training_task
        async def marker(i: int) -> list[str]:
            return ["touch", str(workdir / f"marker-{i}")]

        calls = [await _blocker_running(learner, token)]
        calls += [asyncio.ensure_future(marker(i)) for i in range(200)]
        assert await wait_until(lambda: len(engine.backend.tasks) == 201, 10), len(engine.backend.tasks)
        started = time.monotonic()
    assert time.monotonic() - started < 5
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert all(isinstance(r, BaseException) for r in results)
    assert not list(workdir.glob("marker-*"))
    assert not processes_running(token)


async def test_a_cancelled_waiter_of_the_coroutine_path_does_not_hold_up_the_queue() -> None:
    """The same for commands that wait in a coroutine (those asking for GPUs)."""
    from rose_plugin_local.slots import Slots

    slots = Slots(2)
    assert slots.take_now(1) == 1

    async def hold(n: int) -> None:
        async with slots.take(n):
            await asyncio.sleep(0.01)

    wide = asyncio.ensure_future(hold(2))
    narrow = asyncio.ensure_future(hold(1))
    await asyncio.sleep(0.01)
    assert not narrow.done()
    wide.cancel()
    await asyncio.wait_for(narrow, 1)  # granted on the free slot, before the first one is given back
    slots.give_back(1)
    assert slots.free == 2


async def test_cancelling_every_task_with_commands_waiting_starts_none_of_them(workdir: Path) -> None:
    """The backend's own cancel_all_tasks (what its shutdown calls) with commands still queued:
    a waiting command is forgotten as it is cancelled, and none reaches a core freed on the way."""
    token = unique_sleep(60)
    async with make_engine("local", work_dir=str(workdir), max_workers=2, kill_grace=0.5) as engine:
        learner = Learner(engine, run_dir=workdir / "run")

        @learner.training_task(resources={"cores": 2})
        async def wide() -> list[str]:
            return ["touch", str(workdir / "marker-wide")]

        @learner.training_task
        async def marker(i: int) -> list[str]:
            return ["touch", str(workdir / f"marker-{i}")]

        calls = [await _blocker_running(learner, token)]
        # one core is free, but the two-core command at the head of the queue holds up the rest
        calls += [asyncio.ensure_future(wide())] + [asyncio.ensure_future(marker(i)) for i in range(50)]
        # all 52 in the backend (a fixed sleep was too short once, under a loaded make test)
        assert await wait_until(lambda: len(engine.backend.tasks) == 52, 10), len(engine.backend.tasks)
        assert await engine.backend.cancel_all_tasks() == 52
        assert await wait_until(lambda: not processes_running(token), 5)
        await asyncio.sleep(0.1)
        for call in calls:
            call.cancel()
        await asyncio.gather(*calls, return_exceptions=True)
    assert not list(workdir.glob("marker-*"))
