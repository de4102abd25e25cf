"""What ROSE adds on top of an engine: the same tasks through ROSE and straight to it.

Both sides share one Dask ``LocalCluster`` (two single-threaded worker processes) or one
RADICAL-Pilot pilot (``local.localhost``, two cores), in one process; they alternate
(raw, ROSE, raw, ROSE, ...) so that a change of machine load hits both. Per round the
figures are wall seconds for N tasks; the ratio is ROSE's time over the raw time.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import statistics
from typing import Any

from peer_tasks import TRUE, WORKERS, Clock, noop, warm_up_size
from rose_peer import fan_out_learner


async def dask_pairs(n: int, rounds: int) -> dict[str, Any]:
    """N no-op function tasks: ROSE's ``dask`` backend vs ``Client.submit`` per task (and ``Client.map``)."""
    from distributed import Client, LocalCluster

    import rose

    cluster = await LocalCluster(n_workers=WORKERS, threads_per_worker=1, processes=True, dashboard_address=None,
                                 asynchronous=True)
    client = await Client(cluster, asynchronous=True)
    engine = await rose.engine("dask", address=cluster.scheduler_address)

    async def raw_submit(count: int) -> None:
        futures = [client.submit(noop, i, pure=False) for i in range(count)]
        await client.gather(futures)

    async def raw_map(count: int) -> None:
        await client.gather(client.map(noop, range(count), pure=False))

    async def through_rose(count: int) -> None:
        await fan_out_learner(engine, executable=False).start(max_iter=1, width=count)

    try:
        sides = {"raw_submit": raw_submit, "raw_map": raw_map, "rose": through_rose}
        return await _alternate(sides, n, rounds, baseline="raw_submit")
    finally:
        await engine.shutdown()
        await client.close()
        await cluster.close()


async def radical_pairs(n: int, rounds: int) -> dict[str, Any]:
    """N ``/bin/true`` tasks on one pilot: ROSE's ``radical`` backend vs plain RP task descriptions
    submitted to the same TaskManager (a pilot serves one)."""
    import radical.pilot as rp
    from rhapsody.backends.execution import radical_pilot as rhapsody_radical

    import rose

    engine = await rose.engine("radical", resource="local.localhost", runtime=30, cores=WORKERS)
    # a pilot serves one TaskManager: the plain tasks go through the backend's own. rhapsody's
    # callback on that manager logs a warning for each state of each task it did not submit
    # (about ten per plain task; in a py-spy profile ~0.7 ms of the plain side's CPU per task): plain RP
    # has no such callback, so that warning is silenced here (ROSE's tasks never raise it)
    logging.getLogger(rhapsody_radical.__name__).setLevel(logging.ERROR)
    manager = engine.backend.task_manager

    submitted = itertools.count()

    def plain(count: int) -> None:
        # uids of their own: RP's default (task.000001) is what asyncflow gives ROSE's tasks too
        tasks = manager.submit_tasks([rp.TaskDescription({"executable": TRUE, "uid": f"plain.{next(submitted):06d}"})
                                      for _ in range(count)])
        manager.wait_tasks([task.uid for task in tasks])
        failed = [task.uid for task in tasks if task.state != rp.DONE]
        if failed:
            raise RuntimeError(f"{len(failed)} plain RP tasks did not finish: {failed[:3]}")

    async def raw(count: int) -> None:
        await asyncio.to_thread(plain, count)

    async def through_rose(count: int) -> None:
        await fan_out_learner(engine, executable=True).start(max_iter=1, width=count)

    try:
        return await _alternate({"raw": raw, "rose": through_rose}, n, rounds, baseline="raw")
    finally:
        await engine.shutdown()


async def _alternate(sides: dict[str, Any], n: int, rounds: int, baseline: str) -> dict[str, Any]:
    """Warm every side up, then ``rounds`` rounds of each side in turn; medians and ratios."""
    for run in sides.values():
        await run(warm_up_size(n))
    seconds: dict[str, list[float]] = {name: [] for name in sides}
    cpu: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(rounds):
        for name, run in sides.items():
            clock = Clock()
            await run(n)
            clock.stop()
            seconds[name].append(clock.seconds)
            cpu[name].append(1e6 * clock.cpu_seconds / n)
    ratios = [r / b for r, b in zip(seconds["rose"], seconds[baseline])]
    return {
        "tasks": n,
        "seconds": seconds,
        "cpu_us_per_task": cpu,
        "rose_over_raw": ratios,
        "rose_over_raw_median": statistics.median(ratios),
        "tasks_per_second": {name: n / statistics.median(values) for name, values in seconds.items()},
    }
