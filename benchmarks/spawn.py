"""Scenario 9: executable tasks at the spawn floor, whatever the campaign process's size.

In one process, interleaved over ``--reps`` rounds, with its own floor:

* **sequential**: a ``SequentialActiveLearner`` whose four tasks are executables
  (``/bin/true`` three times, then ``/bin/echo 1`` as the criterion, which must print a
  number), ``--tasks`` commands in all, against the floor: the same argv chain with bare
  ``asyncio.create_subprocess_exec(..., stdout=PIPE, stderr=PIPE)`` + ``communicate()``;
* **concurrent**: a ``ParallelActiveLearner`` of ``--concurrency`` learners on
  ``rose.engine("local", max_workers=concurrency)`` (so as many commands run at once as
  the floor has chains), against ``--concurrency`` concurrent floor chains;
* both again with a ballast of ``--ballast-gib`` GiB allocated *and touched* in this
  process (a campaign holding a big model or data set in memory): spawning must cost the
  same (``fork()`` would copy the page tables: milliseconds per GiB; ``vfork()`` does not).
  Every round runs everything without the ballast, then allocates it, lets it settle,
  runs everything again and frees it, so slow changes in the machine's load hit both.

Each figure is floor time / ROSE time (1.0 = at the floor) and, for the ballast, ROSE's
time per task with the ballast / without (1.0 = independent of the process's memory).
A stricter floor is reported too: the sequential chain with blocking ``subprocess.run``
(vfork + exec + waitpid, no event loop, no thread: what the issue calls the spawn floor).
Note that the asyncio floor on Python 3.11 pays for a thread per process (asyncio's
``ThreadedChildWatcher``), which ROSE's local backend avoids, so ROSE can beat it.
Prints one JSON object (last line); ``run.py --only 9`` shows it as rows 9a-9d.

    python benchmarks/spawn.py --tasks 500 --concurrency 8 --ballast-gib 2 --reps 3
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from typing import Any

TRUE = ["/bin/true"]
ECHO = ["/bin/echo", "1"]
#: the argv of the four tasks of one iteration, in the order a sequential learner runs them
ITERATION = [TRUE, TRUE, TRUE, ECHO]


def _argv_chain(tasks: int) -> list[list[str]]:
    return [ITERATION[n % 4] for n in range(tasks)]


async def _floor_chain(commands: list[list[str]]) -> None:
    for argv in commands:
        process = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        await process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"{argv} exited with {process.returncode}")


async def floor_sequential(tasks: int) -> float:
    """Seconds for ``tasks`` commands, each started when the previous one exited."""
    started = time.perf_counter()
    await _floor_chain(_argv_chain(tasks))
    return time.perf_counter() - started


async def vfork_floor(tasks: int) -> float:
    """Seconds for the same chain with blocking ``subprocess.run`` (vfork + exec + wait, no event loop)."""
    started = time.perf_counter()
    for argv in _argv_chain(tasks):
        subprocess.run(argv, capture_output=True, check=True)
    return time.perf_counter() - started


async def floor_concurrent(tasks: int, concurrency: int) -> float:
    """Seconds for ``concurrency`` chains of ``tasks / concurrency`` commands each."""
    per_chain = _per_learner(tasks, concurrency) * 4
    started = time.perf_counter()
    await asyncio.gather(*(_floor_chain(_argv_chain(per_chain)) for _ in range(concurrency)))
    return time.perf_counter() - started


def _per_learner(tasks: int, learners: int) -> int:
    """Iterations per learner so that ``learners`` learners run about ``tasks`` commands."""
    return max(1, round(tasks / (4 * learners)))


def _register(learner: Any) -> None:
    """The four executable tasks, written as users write them."""

    @learner.simulation_task
    async def simulation(*args: Any, **kwargs: Any) -> list[str]:
        return TRUE

    @learner.training_task
    async def training(*args: Any, **kwargs: Any) -> list[str]:
        return TRUE

    @learner.active_learn_task
    async def active_learn(*args: Any, **kwargs: Any) -> list[str]:
        return TRUE

    @learner.as_stop_criterion(metric_name="mean_squared_error_mse", threshold=-1.0)
    async def criterion(*args: Any, **kwargs: Any) -> list[str]:
        return ECHO


async def rose_sequential(engine: Any, tasks: int) -> float:
    """Seconds for a sequential learner campaign of ``tasks`` executable tasks."""
    from rose.al import SequentialActiveLearner

    learner = SequentialActiveLearner(engine)
    _register(learner)
    started = time.perf_counter()
    async for _state in learner.start(max_iter=max(1, tasks // 4)):
        pass
    return time.perf_counter() - started


async def rose_concurrent(engine: Any, tasks: int, concurrency: int) -> float:
    """Seconds for ``concurrency`` parallel learners running ``tasks`` commands in all."""
    from rose.al import ParallelActiveLearner

    learner = ParallelActiveLearner(engine)
    _register(learner)
    started = time.perf_counter()
    await learner.start(parallel_learners=concurrency, max_iter=_per_learner(tasks, concurrency))
    return time.perf_counter() - started


class Ballast:
    """``gib`` GiB allocated and touched (every page written), released by :meth:`free`."""

    def __init__(self, gib: float) -> None:
        self.block: bytearray | None = bytearray(int(gib * (1 << 30)))
        page = os.sysconf("SC_PAGE_SIZE")
        view = memoryview(self.block)
        view[::page] = b"\x01" * len(range(0, len(self.block), page))
        view.release()

    def free(self) -> None:
        """Give the memory back."""
        self.block = None
        gc.collect()


async def _settled(ballast: Ballast) -> Ballast:
    """Wait out what follows a fresh 2 GiB: for about a second every spawn here (floor
    included) ran 2-3x slower (the machine backing the new pages), then no slower than
    without the ballast. That transient is the allocation's cost, not the spawns'."""
    await asyncio.sleep(1.0)
    await floor_sequential(40)
    return ballast


def _rss_mb() -> float:
    with open("/proc/self/statm", encoding="ascii") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / (1 << 20)


Timed = Callable[[], Coroutine[Any, Any, float]]


async def _timed(run: Timed) -> tuple[float, float]:
    """Wall and CPU seconds (this process, all threads) of one measurement."""
    cpu = time.process_time()
    wall = await run()
    return wall, time.process_time() - cpu


async def measure(tasks: int, concurrency: int, ballast_gib: float, reps: int) -> dict[str, Any]:
    """Run every measurement ``reps`` times, interleaved; return medians and ratios."""
    import rose

    sequential_engine = await rose.engine("local")
    concurrent_engine = await rose.engine("local", max_workers=concurrency)
    per_round: dict[str, Timed] = {
        "floor_sequential": lambda: floor_sequential(tasks),
        "rose_sequential": lambda: rose_sequential(sequential_engine, tasks),
        "floor_concurrent": lambda: floor_concurrent(tasks, concurrency),
        "rose_concurrent": lambda: rose_concurrent(concurrent_engine, tasks, concurrency),
        "vfork_sequential": lambda: vfork_floor(tasks),
    }
    concurrent_tasks = _per_learner(tasks, concurrency) * 4 * concurrency
    counts = {"sequential": max(1, tasks // 4) * 4, "concurrent": concurrent_tasks}
    counts["vfork"] = counts["sequential"]
    seconds: dict[str, list[float]] = {}
    cpu: dict[str, list[float]] = {}
    rss: dict[str, float] = {}
    try:
        # warm-up: imports, the watchdog, run directories, the first spawns of each kind
        await floor_sequential(40)
        await floor_concurrent(8 * concurrency, concurrency)
        await rose_sequential(sequential_engine, 40)
        await rose_concurrent(concurrent_engine, 8 * concurrency, concurrency)
        for _ in range(reps):
            for phase in ("", "ballast_"):
                ballast = await _settled(Ballast(ballast_gib)) if phase and ballast_gib > 0 else None
                rss[phase or "plain"] = _rss_mb()
                try:
                    for name, run in per_round.items():
                        wall, used = await _timed(run)
                        seconds.setdefault(phase + name, []).append(wall)
                        cpu.setdefault(phase + name, []).append(used)
                finally:
                    if ballast is not None:
                        ballast.free()
    finally:
        await sequential_engine.shutdown()
        await concurrent_engine.shutdown()
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    result: dict[str, Any] = {
        "tasks": counts,
        "concurrency": concurrency,
        "ballast_gib": ballast_gib,
        "rss_mb": rss,
        "reps": reps,
        "load": os.getloadavg(),
        "seconds": seconds,
        "cpu_seconds": cpu,
        "vfork_floor_ms_per_task": 1000 * medians["vfork_sequential"] / counts["vfork"],
        "sequential_vfork_ratio": medians["vfork_sequential"] / medians["rose_sequential"],
    }
    for mode in ("sequential", "concurrent"):
        n = counts[mode]
        for phase in ("", "ballast_"):
            floor, ours = medians.get(f"{phase}floor_{mode}"), medians.get(f"{phase}rose_{mode}")
            if floor is None or ours is None:
                continue
            result[f"{phase}{mode}_floor_ms_per_task"] = 1000 * floor / n
            result[f"{phase}{mode}_rose_ms_per_task"] = 1000 * ours / n
            result[f"{phase}{mode}_floor_ratio"] = floor / ours
            for impl in ("floor", "rose"):
                used = statistics.median(cpu[f"{phase}{impl}_{mode}"])
                result[f"{phase}{mode}_{impl}_cpu_ms_per_task"] = 1000 * used / n
        if f"ballast_rose_{mode}" in medians:
            result[f"{mode}_ballast_ratio"] = medians[f"ballast_rose_{mode}"] / medians[f"rose_{mode}"]
            result[f"{mode}_ballast_floor_ratio"] = medians[f"ballast_floor_{mode}"] / medians[f"floor_{mode}"]
    return result


def main(argv: list[str] | None = None) -> int:
    """Parse the options, measure, print one JSON object."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=500, help="commands per measurement (default 500)")
    parser.add_argument("--concurrency", type=int, default=8, help="learners / chains in flight (default 8)")
    parser.add_argument("--ballast-gib", type=float, default=2.0, help="memory held by the campaign (default 2)")
    parser.add_argument("--reps", type=int, default=3, help="interleaved rounds (default 3)")
    args = parser.parse_args(argv)
    os.environ.setdefault("ROSE_RUNS_DIR", tempfile.mkdtemp(prefix="rose-bench-spawn-"))
    result = asyncio.run(measure(args.tasks, args.concurrency, args.ballast_gib, args.reps))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
