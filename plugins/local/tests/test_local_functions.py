"""Function tasks on the local backend's worker threads: where they run, how many at once,
what comes back (values, exceptions, cancellation), and the Executor API."""

from __future__ import annotations

import asyncio
import contextvars
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from rose_plugin_local.threads import FunctionThreads

from rose.engine import engine as make_engine
from rose.learner import Learner


async def test_function_tasks_run_on_worker_threads_max_workers_at_a_time(workdir: Path) -> None:
    async with make_engine("local", work_dir=str(workdir), max_workers=2) as engine:
        learner = Learner(engine, run_dir=workdir / "run")
        running: list[int] = []
        peak: list[int] = [0]
        lock = threading.Lock()

        @learner.training_task(as_executable=False)
        async def blocking(n: int) -> tuple[int, str]:
            with lock:
                running.append(n)
                peak[0] = max(peak[0], len(running))
            time.sleep(0.2)  # blocks its thread, not the campaign's loop
            with lock:
                running.remove(n)
            return n, threading.current_thread().name

        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        clock = asyncio.ensure_future(ticker())
        started = time.monotonic()
        results = await asyncio.gather(*(blocking(n) for n in range(4)))
        elapsed = time.monotonic() - started
        clock.cancel()

    assert [n for n, _ in results] == [0, 1, 2, 3]
    assert {name for _, name in results} <= {"rose-local_0", "rose-local_1"}
    assert peak[0] == 2, "max_workers=2 runs two function tasks at once, never more"
    assert 0.35 < elapsed < 1.5, f"4 tasks of 0.2 s on 2 workers took {elapsed:.2f} s"
    assert ticks > 10, "the campaign's event loop kept running while functions blocked their threads"


async def test_many_concurrent_results_each_reach_their_caller(workdir: Path) -> None:
    async with make_engine("local", work_dir=str(workdir)) as engine:
        learner = Learner(engine, run_dir=workdir / "run")

        @learner.training_task(as_executable=False)
        async def square(n: int) -> int:
            if n % 97 == 13:
                await asyncio.sleep(0)  # some suspend on their thread's loop
            return n * n

        values = await asyncio.gather(*(square(n) for n in range(3000)))
    assert values == [n * n for n in range(3000)]


async def test_an_exception_reaches_the_caller_named(workdir: Path) -> None:
    async with make_engine("local", work_dir=str(workdir)) as engine:
        learner = Learner(engine, run_dir=workdir / "run")

        @learner.training_task(as_executable=False)
        async def train() -> None:
            raise KeyError("no column 'y'")

        with pytest.raises(KeyError, match="no column") as caught:
            await train()
    assert any("function task 'training'" in note for note in getattr(caught.value, "__notes__", []))


async def test_work_the_function_leaves_running_is_cancelled_when_it_returns() -> None:
    pool = FunctionThreads(1)
    cancelled = threading.Event()

    async def leaves_a_task() -> str:
        async def forever() -> None:
            try:
                await asyncio.sleep(60)
            finally:
                cancelled.set()

        asyncio.ensure_future(forever())
        await asyncio.sleep(0)
        return "done"

    assert await pool.start(leaves_a_task, (), {}) == "done"
    assert await asyncio.to_thread(cancelled.wait, 5)
    pool.shutdown()


async def test_a_task_cancelled_before_its_turn_never_runs() -> None:
    pool = FunctionThreads(1)
    gate = threading.Event()
    ran: list[str] = []

    async def hold() -> None:
        await asyncio.to_thread(gate.wait, 5)

    async def record(name: str) -> None:
        ran.append(name)

    first = pool.start(hold, (), {})
    second = pool.start(record, ("second",), {})
    second.cancel()
    third = pool.start(record, ("third",), {})
    gate.set()
    await first
    await third
    assert ran == ["third"]
    pool.shutdown()


async def test_a_coroutine_cancelled_while_it_runs_stops_at_its_next_await() -> None:
    pool = FunctionThreads(1)
    steps: list[int] = []
    stopped = threading.Event()

    async def long_work() -> None:
        try:
            for step in range(100):
                steps.append(step)
                await asyncio.sleep(0.02)
        except asyncio.CancelledError:
            stopped.set()
            raise

    running = pool.start(long_work, (), {})
    while not steps:
        await asyncio.sleep(0.01)
    running.cancel()
    assert await asyncio.to_thread(stopped.wait, 5), "the coroutine was not cancelled on its thread"
    done = len(steps)
    await asyncio.sleep(0.2)
    assert len(steps) == done < 100
    assert await pool.start(asyncio.sleep, (0, "next"), {}) == "next"  # the thread and its loop serve the next task
    pool.shutdown()


async def test_a_coroutine_runs_inside_a_task_of_its_own_context() -> None:
    """A coroutine that never waits runs without a turn of its thread's loop, but still as asyncio
    code expects: inside a task, on a running loop, with its own copy of the context (a variable
    one task sets is not seen by the next on the same thread)."""
    pool = FunctionThreads(1)
    variable: contextvars.ContextVar[str] = contextvars.ContextVar("variable", default="unset")

    async def look(value: str) -> tuple[bool, bool, str]:
        seen = variable.get()
        variable.set(value)
        return asyncio.current_task() is not None, asyncio.get_running_loop() is not None, seen

    assert await pool.start(look, ("first",), {}) == (True, True, "unset")
    assert await pool.start(look, ("second",), {}) == (True, True, "unset")

    async def waits_then_looks() -> tuple[str, bool]:
        variable.set("mine")
        await asyncio.sleep(0.01)  # the rest runs after a real wait, in the same context and task
        return variable.get(), asyncio.current_task() is not None

    assert await pool.start(waits_then_looks, (), {}) == ("mine", True)
    pool.shutdown()


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.timeout and TaskGroup are Python 3.11+")
async def test_timeouts_and_task_groups_work_in_a_function_task_even_after_a_cancelled_one() -> None:
    pool = FunctionThreads(1)
    started = threading.Event()

    async def long_work() -> None:
        started.set()
        await asyncio.sleep(60)

    running = pool.start(long_work, (), {})
    assert await asyncio.to_thread(started.wait, 5)
    running.cancel()

    async def times_out() -> str:
        try:
            async with asyncio.timeout(0.02):
                await asyncio.sleep(5)
        except TimeoutError:  # not CancelledError: the earlier task's cancellation is not counted here
            return "timed out"
        return "not timed out"

    async def in_a_group() -> list[int]:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(asyncio.sleep(0.01, k)) for k in range(3)]
        return [task.result() for task in tasks]

    assert await pool.start(times_out, (), {}) == "timed out"
    assert await pool.start(in_a_group, (), {}) == [0, 1, 2]
    pool.shutdown()


async def test_a_plain_callable_runs_outside_any_event_loop() -> None:
    """``Executor.submit`` of a function that runs its own ``asyncio.run`` (no loop is running around it)."""
    pool = FunctionThreads(1)

    def runs_its_own_loop() -> int:
        return asyncio.run(asyncio.sleep(0, 7))

    assert await asyncio.wrap_future(pool.submit(runs_its_own_loop)) == 7
    pool.shutdown()


async def test_a_function_that_is_not_a_coroutine_function_fails_by_name() -> None:
    pool = FunctionThreads(1)

    def not_async(x: int) -> int:
        return x

    with pytest.raises(TypeError, match="must be a coroutine function .* returned 3"):
        await pool.start(not_async, (3,), {})
    assert await pool.start(asyncio.sleep, (0, "next"), {}) == "next"
    pool.shutdown()


async def test_a_function_task_that_times_out_stops_running(workdir: Path) -> None:
    """``timeout=`` on an async function task: the task fails and its body stops, so a retry or the next
    task never runs beside it."""
    from rose.errors import TaskFailedError

    log = workdir / "alive.log"
    async with make_engine("local", work_dir=str(workdir), max_workers=2) as engine:
        learner = Learner(engine, run_dir=workdir / "run")

        @learner.training_task(as_executable=False, timeout=0.3)
        async def slow() -> None:
            for _ in range(40):
                with log.open("a") as out:
                    out.write(f"{time.monotonic()}\n")
                await asyncio.sleep(0.05)

        with pytest.raises(TaskFailedError, match="timeout=0.3"):
            await learner.run_task("training")
        failed_at = time.monotonic()
        await asyncio.sleep(0.5)
    late = [float(line) for line in log.read_text().split() if float(line) > failed_at]
    assert late == [], f"the timed-out task wrote {len(late)} more lines after it had failed"


async def test_it_is_an_executor_for_plain_callables() -> None:
    pool = FunctionThreads(2)
    loop = asyncio.get_running_loop()
    assert await loop.run_in_executor(pool, sum, [1, 2, 3]) == 6
    pool.shutdown(wait=True)
    with pytest.raises(RuntimeError, match="shut down"):
        pool.submit(sum, [1])


def test_worker_count_is_checked() -> None:
    with pytest.raises(ValueError, match="at least one worker, got 0"):
        FunctionThreads(0)


async def test_results_for_a_closed_loop_are_dropped_quietly() -> None:
    pool = FunctionThreads(1)
    gate = threading.Event()

    async def slow() -> int:
        await asyncio.to_thread(gate.wait, 5)
        return 1

    def in_other_loop() -> Any:
        async def submit() -> Any:
            return pool.start(slow, (), {})

        return asyncio.run(submit())  # the loop closes with the task still running

    await asyncio.to_thread(in_other_loop)
    gate.set()
    assert await pool.start(slow, (), {}) == 1  # the worker survived the closed loop
    pool.shutdown()


@pytest.mark.parametrize("where", ["handler", "start"])
async def test_a_backend_that_fails_before_settling_a_task_fails_it_instead_of_hanging(
    workdir: Path, where: str
) -> None:
    """Injected fault (a backend bug cannot be produced otherwise): the task's handler raises
    (the coroutine path), or starting the task at submission raises (rose_start_task)."""
    from radical.asyncflow import WorkflowEngine
    from rose_plugin_local import LocalBackend

    class Broken(LocalBackend):
        async def _execute_task(self, task: dict[str, Any]) -> Any:
            raise RuntimeError("backend bug before any state was reported")

        def rose_start_task(self, task: dict[str, Any]) -> bool:
            if where == "start":
                raise RuntimeError("backend bug while starting the task")
            return False

    backend = await Broken(max_workers=1)
    engine = await WorkflowEngine.create(backend=backend)
    try:
        learner = Learner(engine, run_dir=workdir / "run")

        @learner.training_task()
        async def command() -> str:
            return "true"

        with pytest.raises(RuntimeError, match="backend bug"):
            await asyncio.wait_for(command(), 10)
    finally:
        await engine.shutdown()
