"""Cost of the MLflow tracker on the learning loop, measured in one run.

A SequentialActiveLearner with no-op function tasks runs N iterations (default 50) without
a tracker and with ``rose.tracker("mlflow")`` writing to a fresh sqlite store, alternating,
several rounds. For each campaign it reports:

* loop: time from ``start`` until the last iteration's state is yielded (the learning loop);
* total: until the campaign has ended, which includes ``on_stop`` waiting for MLflow to
  write everything queued (the flush).

The first tracked campaign of the process is reported separately ("cold"): its end waits for
the MLflow writer process to start, import MLflow and create the sqlite tables.

It also reports the CPU time the tracker's ``on_iteration`` takes in the campaign's process (on
the tracker thread, ``time.thread_time``), and the campaign process's CPU time during the loop by
thread (event loop, backend workers, ROSE's tracker thread, the MLflow sender and reader): the
part of the tracker's cost that does not depend on how busy the machine is, unlike the
wall-clock ratios on a shared machine.

    .venv/bin/python benchmarks/tracking_cost.py [--iterations 50] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from typing import Any

import rose


async def make_engine() -> Any:
    """The local backend when installed, else rose.testing's thread backend."""
    from rose.plugins import registry

    if "local" in registry().backends:
        return await rose.engine("local"), "local"
    from rose import plugins
    from rose.testing import TEST_BACKEND, TestBackendPlugin

    plugins.get_plugin_manager().register(TestBackendPlugin, name="rose-testing")
    plugins.invalidate()
    return await rose.engine(TEST_BACKEND), TEST_BACKEND


def noop_learner(engine: Any, run_dir: str) -> Any:
    """simulation, training, active learning and a criterion that never stops: all no-ops."""
    from rose.al import SequentialActiveLearner

    learner = SequentialActiveLearner(engine, run_dir=run_dir)

    @learner.simulation_task(as_executable=False)
    async def simulation(*args: Any, **kwargs: Any) -> dict[str, int]:
        return {"labelled": 1}

    @learner.training_task(as_executable=False)
    async def training(*args: Any, **kwargs: Any) -> dict[str, float]:
        return {"loss": 0.5}

    @learner.active_learn_task(as_executable=False)
    async def active_learn(*args: Any, **kwargs: Any) -> None:
        return None

    @learner.as_stop_criterion(metric_name="mean_squared_error_mse", threshold=-1.0, as_executable=False)
    async def criterion(*args: Any, **kwargs: Any) -> float:
        return 0.25

    return learner


#: CPU seconds spent in the MLflow tracker's on_iteration, and how many calls
CALLBACK_CPU = [0.0, 0]


def timed_tracker(**options: Any) -> Any:
    """``rose.tracker("mlflow", ...)`` whose on_iteration adds its thread CPU time to CALLBACK_CPU."""
    tracker = rose.tracker("mlflow", **options)
    on_iteration = tracker.on_iteration

    def measured(state: Any) -> None:
        began = time.thread_time()
        on_iteration(state)
        CALLBACK_CPU[0] += time.thread_time() - began
        CALLBACK_CPU[1] += 1

    tracker.on_iteration = measured
    return tracker


def thread_cpu() -> dict[str, float]:
    """CPU seconds of each live thread of this process, by name (numbers in names are dropped)."""
    out: dict[str, float] = defaultdict(float)
    for thread in threading.enumerate():
        try:
            seconds = time.clock_gettime(time.pthread_getcpuclockid(thread.ident or 0))
        except (OSError, AttributeError):  # the thread just ended, or no per-thread clocks here
            continue
        out["".join(c for c in thread.name if not c.isdigit())] += seconds
    return out


def writer_cpu() -> float:
    """CPU seconds the MLflow writer process has used so far (0 before it starts; Linux)."""
    from rose_plugin_mlflow import writer_link

    link = writer_link._link
    try:
        with open(f"/proc/{link.process.pid}/stat", encoding="ascii") as handle:  # type: ignore[union-attr]
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    except (AttributeError, OSError, IndexError, ValueError):
        return 0.0


#: per campaign kind, the loop's process CPU seconds and CPU seconds by thread name
LOOP_CPU: dict[bool, list[tuple[float, dict[str, float]]]] = {False: [], True: []}


async def campaign(
    engine: Any, root: str, name: str, iterations: int, tracked: bool, options: dict[str, Any]
) -> tuple[float, float]:
    """(loop seconds, total seconds) of one campaign; its loop's CPU goes to LOOP_CPU."""
    learner = noop_learner(engine, os.path.join(root, name))
    if tracked:
        learner.add_tracker(timed_tracker(experiment_name="tracking-cost",
                                          tracking_uri="sqlite:///" + os.path.join(root, "mlflow.db"), **options))
    threads, cpu, writer = thread_cpu(), time.process_time(), writer_cpu()
    collections = [stats["collections"] for stats in gc.get_stats()]
    started = time.perf_counter()
    loop = 0.0
    count = 0
    async for _state in learner.start(max_iter=iterations):
        count += 1
        loop = time.perf_counter() - started
        if count == iterations:  # the loop's CPU, before the tracker's stop
            after = thread_cpu()
            used = {k: v - threads.get(k, 0.0) for k, v in after.items()}
            used["(MLflow writer process)"] = writer_cpu() - writer
            for generation, stats in enumerate(gc.get_stats()):  # counts, shown as "ms"
                used[f"(garbage collections of generation {generation}, count)"] = (
                    stats["collections"] - collections[generation]) / 1000
            LOOP_CPU[tracked].append((time.process_time() - cpu, used))
    total = time.perf_counter() - started
    assert count == iterations, count
    return loop, total


async def main(argv: list[str] | None = None) -> int:
    """Run the measurement and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch-interval", type=float, default=None,
                        help="the tracker's batch_interval (default: the tracker's own default)")
    args = parser.parse_args(argv)
    options = {} if args.batch_interval is None else {"batch_interval": args.batch_interval}
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    results: dict[str, list[tuple[float, float]]] = {"without tracker": [], "with MLflow tracker": []}
    with tempfile.TemporaryDirectory(prefix="rose-tracking-cost-") as root:
        os.environ["ROSE_RUNS_DIR"] = root  # campaign and engine directories go here, then away
        engine, backend = await make_engine()
        try:
            await campaign(engine, root, "warmup", args.iterations, False, options)
            cold = await campaign(engine, root, "cold", args.iterations, True, options)
            for n in range(args.rounds):
                results["without tracker"].append(await campaign(engine, root, f"plain-{n}", args.iterations, False, options))
                results["with MLflow tracker"].append(await campaign(engine, root, f"mlflow-{n}", args.iterations, True, options))
        finally:
            await engine.shutdown()

    n = args.iterations
    print(f"{n}-iteration no-op SequentialActiveLearner campaign, backend {backend!r}, "
          f"Python {sys.version.split()[0]}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; "
          f"{args.rounds} alternating rounds; tracker options {options or 'default'}")
    print()
    print("| campaign | loop median (s) | loop min (s) | per iteration, median (ms) | total incl. flush, median (s) |")
    print("|---|---:|---:|---:|---:|")
    for label, runs in results.items():
        loop = statistics.median(r[0] for r in runs)
        total = statistics.median(r[1] for r in runs)
        print(f"| {label} | {loop:.3f} | {min(r[0] for r in runs):.3f} | {1000 * loop / n:.2f} | {total:.3f} |")
    print(f"| with MLflow tracker, first in process (cold) | {cold[0]:.3f} | - | {1000 * cold[0] / n:.2f} | {cold[1]:.3f} |")
    plain, tracked = results["without tracker"], results["with MLflow tracker"]
    print()
    median_ratio = statistics.median(r[0] for r in tracked) / statistics.median(r[0] for r in plain)
    min_ratio = min(r[0] for r in tracked) / min(r[0] for r in plain)
    print(f"loop time ratio with/without tracker: median {median_ratio:.2f}, min {min_ratio:.2f}")
    plain_cpu = statistics.median(c for c, _ in LOOP_CPU[False][1:])
    tracked_cpu = statistics.median(c for c, _ in LOOP_CPU[True][1:])
    print(f"campaign process CPU during the loop: {1000 * plain_cpu:.1f} ms without, {1000 * tracked_cpu:.1f} ms with "
          f"the tracker ({tracked_cpu / plain_cpu:.3f}x); by thread, median ms with / without:")
    names = sorted({name for _, used in LOOP_CPU[True][1:] + LOOP_CPU[False][1:] for name in used})
    for name in names:
        with_t = statistics.median(used.get(name, 0.0) for _, used in LOOP_CPU[True][1:])
        without = statistics.median(used.get(name, 0.0) for _, used in LOOP_CPU[False][1:])
        if max(with_t, without) >= 0.0001:
            print(f"  {name or '?'}: {1000 * with_t:.2f} / {1000 * without:.2f}")
    if CALLBACK_CPU[1]:
        print(f"tracker on_iteration CPU in the campaign's process: {1e6 * CALLBACK_CPU[0] / CALLBACK_CPU[1]:.1f} us per call "
              f"({CALLBACK_CPU[1]} calls)")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
