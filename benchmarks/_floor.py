"""The floor: the same work in bare asyncio, no framework (standard library only).

* loop: a chain of ``4 x iterations`` awaits of the task coroutine (no-op or a 50 ms sleep);
* executable_loop: a chain of ``asyncio.create_subprocess_exec("date", "+%s%N")`` + ``communicate()``;
* parallel: ``learners`` concurrent chains of ``4 x iterations`` no-op awaits.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from _common import current_rss_mb, hops_ms, peak_rss_mb, run_worker


def _task(seconds: float) -> Any:
    async def task() -> None:
        if seconds:
            await asyncio.sleep(seconds)

    return task


def loop(iterations: int, task_seconds: float) -> dict[str, Any]:
    """``4 x iterations`` sequential awaits."""
    task = _task(task_seconds)

    async def main() -> float:
        started = time.perf_counter()
        for _ in range(4 * iterations):
            await task()
        return time.perf_counter() - started

    seconds = asyncio.run(main())
    return {"seconds": seconds, "per_iteration_ms": 1000 * seconds / iterations}


def executable_loop(iterations: int) -> dict[str, Any]:
    """``4 x iterations`` sequential ``date`` processes, each started when the previous exited."""

    async def main() -> tuple[float, list[int]]:
        stamps: list[int] = []
        started = time.perf_counter()
        for _ in range(4 * iterations):
            process = await asyncio.create_subprocess_exec(
                "date", "+%s%N", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
            )
            out, _err = await process.communicate()
            if process.returncode != 0:
                raise RuntimeError(f"`date +%s%N` exited with {process.returncode}")
            stamps.append(int(out.split()[-1]))
        return time.perf_counter() - started, stamps

    seconds, stamps = asyncio.run(main())
    return {
        "seconds": seconds,
        "per_iteration_ms": 1000 * seconds / iterations,
        "tasks": len(stamps),
        **hops_ms(stamps),
    }


def parallel(learners: int, iterations: int) -> dict[str, Any]:
    """``learners`` concurrent chains of ``4 x iterations`` no-op awaits."""
    counter: list[int] = []

    async def task() -> None:
        counter.append(1)

    async def chain() -> None:
        for _ in range(4 * iterations):
            await task()

    async def main() -> float:
        started = time.perf_counter()
        await asyncio.gather(*(chain() for _ in range(learners)))
        return time.perf_counter() - started

    rss_before = current_rss_mb()
    seconds = asyncio.run(main())
    return {
        "seconds": seconds,
        "tasks": len(counter),
        "tasks_per_second": len(counter) / seconds,
        "rss_before_mb": rss_before,
        "peak_rss_mb": peak_rss_mb(),
        "peak_delta_mb": peak_rss_mb() - rss_before,
    }


if __name__ == "__main__":
    run_worker({"loop": loop, "executable_loop": executable_loop, "parallel": parallel})
