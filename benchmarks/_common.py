"""Helpers shared by every benchmark worker (standard library only).

Workers run in three interpreters - this project's ``.venv``, the ROSE 0.3 environment
and (for the floor) this project's ``.venv`` again - so this module imports nothing but
the standard library. A worker is started as ``python <worker>.py <job-json> <result-path>``
and writes one JSON object to ``result-path``; its stdout is discarded (ROSE 0.3 prints
a line per task check).
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

__all__ = [
    "CRITERION_THRESHOLD",
    "KEEP_AWAKE",
    "METRIC",
    "Timing",
    "current_rss_mb",
    "function_tasks",
    "paired_campaigns",
    "hops_ms",
    "keep_awake",
    "peak_rss_mb",
    "percentile",
    "run_worker",
    "timed",
]

#: a neighbour process that wakes every 0.5 ms: it keeps the machine's CPUs out of deep idle states;
#: it ends when the process that started it is gone (a harness killed by a signal leaves nothing behind)
KEEP_AWAKE = "import os, time\nparent = os.getppid()\nwhile os.getppid() == parent:\n    time.sleep(0.0005)\n"


class keep_awake:
    """``with keep_awake():`` runs :data:`KEEP_AWAKE` beside the measurements (``enabled=False``: nothing).

    On the 2-core virtual machines this project is measured on, an otherwise idle CPU falls
    asleep between two of a campaign's thread hand-offs, and waking it costs more than the
    hand-off: the same 3a run gave 10,195 then 6,015 tasks/s, one right after the other, at
    load 0.9. With the neighbour every repetition runs on awake CPUs (a busy compute node's
    condition); it costs about 1% of one core.
    """

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.process: Any = None

    def __enter__(self) -> keep_awake:
        if self.enabled:
            import subprocess

            self.process = subprocess.Popen([sys.executable, "-c", KEEP_AWAKE])
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()


#: the criterion never stops the loop: an error metric (stop when < threshold) below 0
CRITERION_THRESHOLD = -1.0
#: a registered error metric (stop when value < threshold), in ROSE 0.3 and in this project
METRIC = "mean_squared_error_mse"


def function_tasks(learner: Any, seconds: float, counter: list[int] | None = None) -> None:
    """Register four function tasks (simulation, training, active learning, criterion)."""

    async def work() -> None:
        if counter is not None:
            counter.append(1)
        if seconds:
            await asyncio.sleep(seconds)

    @learner.simulation_task(as_executable=False)
    async def simulation(*args: Any, **kwargs: Any) -> None:
        await work()

    @learner.training_task(as_executable=False)
    async def training(*args: Any, **kwargs: Any) -> None:
        await work()

    @learner.active_learn_task(as_executable=False)
    async def active_learn(*args: Any, **kwargs: Any) -> None:
        await work()

    @learner.as_stop_criterion(metric_name=METRIC, threshold=CRITERION_THRESHOLD, as_executable=False)
    async def criterion(*args: Any, **kwargs: Any) -> float:
        await work()
        return 1.0


async def timed(run: AsyncIterator[Any], started: float | None = None) -> Timing:
    """Consume a learner run: wall seconds, CPU seconds (all threads), time of each state."""
    started = time.perf_counter() if started is None else started
    cpu = time.process_time()
    marks: list[float] = []
    async for _state in run:
        marks.append(time.perf_counter() - started)
    return Timing(time.perf_counter() - started, time.process_time() - cpu, marks)


class Timing:
    """How long a learner run took: wall and CPU seconds, and when each state arrived."""

    def __init__(self, seconds: float, cpu_seconds: float, marks: Sequence[float]) -> None:
        self.seconds = seconds
        self.cpu_seconds = cpu_seconds
        self.marks = list(marks)

    def loop_per_state_ms(self) -> float:
        """Milliseconds between the first and the last state, per state (start-up excluded)."""
        if len(self.marks) < 2:
            return 1000 * self.seconds
        return 1000 * (self.marks[-1] - self.marks[0]) / (len(self.marks) - 1)

    def tail_per_state_ms(self) -> float:
        """Milliseconds per state over the second half of the run (the steady state)."""
        half = len(self.marks) // 2
        if len(self.marks) - half < 2:
            return self.loop_per_state_ms()
        return 1000 * (self.marks[-1] - self.marks[half]) / (len(self.marks) - 1 - half)

    def pair_summary(self, iterations: int) -> dict[str, float]:
        """Scenario 5's figures of one campaign: loop and steady-state ms per iteration, CPU ms
        per iteration, and the seconds outside the loop (start-up and end)."""
        loop_ms = self.loop_per_state_ms()
        return {
            "loop_ms": loop_ms,
            "tail_ms": self.tail_per_state_ms(),
            "cpu_ms": 1000 * self.cpu_seconds / iterations,
            "outside_s": self.seconds - loop_ms * (len(self.marks) - 1) / 1000,
        }

    def summary(self) -> dict[str, Any]:
        """The fields every timed job reports."""
        return {
            "seconds": self.seconds,
            "cpu_seconds": self.cpu_seconds,
            "states": len(self.marks),
            "tail_per_iteration_ms": self.tail_per_state_ms(),
        }


async def paired_campaigns(
    campaign: Callable[[int, bool], Awaitable[Timing]], iterations: int, rounds: int
) -> dict[str, Any]:
    """Scenario 5's schedule: a 5-iteration campaign without then with the tracker, then
    ``rounds`` pairs of ``iterations``-iteration campaigns; ``campaign(n, tracked)`` runs one.

    The pairs alternate their order (with, without; without, with; ...) so that campaigns
    with and without the tracker follow each kind equally often: a campaign right after a
    tracked one runs faster on this kind of VM (measured: 0.54 against 0.71 ms per iteration
    after an untracked one; the tracked campaign's disk writes keep the other CPU awake), and
    always running the untracked one second gave it that head start in every pair.
    """
    first_plain, first_tracked = await campaign(5, False), await campaign(5, True)
    pairs = []
    for round_number in range(rounds):
        if round_number % 2 == 0:
            tracked = await campaign(iterations, True)
            plain = await campaign(iterations, False)
        else:
            plain = await campaign(iterations, False)
            tracked = await campaign(iterations, True)
        pairs.append((plain, tracked))
    return {
        "first_extra_seconds": first_tracked.seconds - first_plain.seconds,
        "plain": [t.pair_summary(iterations) for t, _ in pairs],
        "tracked": [t.pair_summary(iterations) for _, t in pairs],
    }


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) with linear interpolation."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    position = (len(ordered) - 1) * q / 100.0
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def hops_ms(stamps_ns: Sequence[int]) -> dict[str, float]:
    """Median and p95 of the gaps between consecutive process clock readings, in ms."""
    gaps = [(b - a) / 1e6 for a, b in zip(stamps_ns, stamps_ns[1:])]
    if not gaps:
        return {"hop_median_ms": float("nan"), "hop_p95_ms": float("nan"), "hops": 0}
    return {"hop_median_ms": statistics.median(gaps), "hop_p95_ms": percentile(gaps, 95), "hops": len(gaps)}


def peak_rss_mb() -> float:
    """The process's peak resident memory so far, in MiB (Linux reports KiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024.0 if sys.platform != "darwin" else peak / (1024.0 * 1024.0)


def current_rss_mb() -> float:
    """The process's resident memory now, in MiB (falls back to the peak off Linux)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            pages = int(handle.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / (1024.0 * 1024.0)
    except (OSError, ValueError, IndexError):
        return peak_rss_mb()


def run_worker(jobs: dict[str, Callable[..., dict[str, Any]]]) -> None:
    """Entry point of a worker: run the job named in argv[1], write the result to argv[2]."""
    job = json.loads(sys.argv[1])
    result_path = sys.argv[2]
    name = job.pop("job")
    started = time.perf_counter()
    try:
        result = jobs[name](**job)
        result["ok"] = True
    except BaseException as exc:  # noqa: BLE001 - reported to the harness, which shows it
        import traceback

        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
    result["worker_seconds"] = time.perf_counter() - started
    with open(result_path, "w", encoding="utf-8") as handle:
        json.dump(result, handle)
