"""Backend start-up time and throughput of trivial executable tasks, against a plain floor.

    .venv/bin/python benchmarks/backends.py                   # local, dry-run, dask, radical
    .venv/bin/python benchmarks/backends.py --backends local,dask --tasks 200

For each backend: the time from ``rose.engine(name)`` until the first ``true`` task has
finished (for RADICAL-Pilot that includes the pilot becoming active), the rate of
``--tasks`` concurrent ``true`` tasks submitted the way learners do (a Learner task per
command, through ``rose.tasks.execute``), and the shutdown time. The floor is plain
``asyncio.create_subprocess_exec("true")`` x N in the same process, measured before and
after the backends; ``raw`` rows submit straight to asyncflow (no ROSE layer) on the two
candidate local backends, with the import time each adds.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import tempfile
import time
from typing import Any


async def floor(n: int) -> float:
    """Tasks/s of plain create_subprocess_exec("true"), all concurrent."""

    async def one() -> None:
        process = await asyncio.create_subprocess_exec(
            "true", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        await process.communicate()

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(n)))
    return n / (time.perf_counter() - started)


async def through_rose(name: str, n: int, work: str, options: dict[str, Any]) -> dict[str, float]:
    """Start-up, tasks/s and shutdown of one backend, tasks submitted as a learner does."""
    from rose.engine import engine as make_engine
    from rose.learner import Learner

    started = time.perf_counter()
    engine = await make_engine(name, work_dir=os.path.join(work, name), **options)
    learner = Learner(engine, run_dir=os.path.join(work, f"{name}-run"))

    @learner.utility_task
    async def trivial() -> list[str]:
        return ["true"]

    await trivial()
    startup = time.perf_counter() - started
    started = time.perf_counter()
    await asyncio.gather(*(trivial() for _ in range(n)))
    rate = n / (time.perf_counter() - started)
    started = time.perf_counter()
    await engine.shutdown()
    return {"startup": startup, "rate": rate, "shutdown": time.perf_counter() - started}


def fresh_import_seconds(module: str, repeat: int = 3) -> float:
    """Best-of-``repeat`` import time of ``module`` in a fresh interpreter."""
    import subprocess

    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    runs = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
            for _ in range(repeat)]
    return min(runs)


async def raw(kind: str, n: int, work: str) -> dict[str, float]:
    """The two candidate local backends, tasks submitted straight to asyncflow."""
    from concurrent.futures import ThreadPoolExecutor

    module = "radical.asyncflow" if kind == "asyncflow" else "rhapsody.backends"
    imported = fresh_import_seconds(module) - fresh_import_seconds("radical.asyncflow")
    if kind == "asyncflow":
        from radical.asyncflow import LocalExecutionBackend as Backend
    else:
        from rhapsody.backends import ConcurrentExecutionBackend as Backend
    from radical.asyncflow import WorkflowEngine

    from rose.engine import restore_default_signals

    backend = await Backend(ThreadPoolExecutor(os.cpu_count()))
    engine = await WorkflowEngine.create(backend=backend, work_dir=work)
    restore_default_signals()

    async def command() -> str:
        return "true"

    started = time.perf_counter()
    await asyncio.gather(*(engine.executable_task(command)(task_description={"shell": False}) for _ in range(n)))
    rate = n / (time.perf_counter() - started)
    await engine.shutdown()
    return {"import": imported, "rate": rate}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default="local,local:8,dry-run,dask,radical",
                        help="comma-separated; local:N is local with max_workers=N")
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--raw", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    options = {
        "local": {},
        "dry-run": {},
        "dask": {"n_workers": 2},
        "radical": {"resource": "local.localhost", "runtime": 15, "cores": os.cpu_count()},
    }
    rows: list[tuple[str, str, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="rose-bench-") as work:
        os.environ.setdefault("ROSE_RUNS_DIR", os.path.join(work, "runs"))
        before = await floor(args.tasks)
        rows.append(("plain create_subprocess_exec (before)", "-", f"{before:.0f}", "-"))
        for label in [b for b in args.backends.split(",") if b]:
            name, _, workers = label.partition(":")
            chosen = dict(options.get(name, {}))
            if workers:
                chosen["max_workers"] = int(workers)
                label = f"{name} (max_workers={workers})"
            try:
                result = await through_rose(name, args.tasks, work, chosen)
            except Exception as exc:  # noqa: BLE001 - report and go on with the other backends
                rows.append((label, f"failed: {type(exc).__name__}: {exc}", "-", "-"))
                continue
            rows.append((label, f"{result['startup']:.2f} s", f"{result['rate']:.0f}", f"{result['shutdown']:.2f} s"))
            print(f"{label}: {result}", file=sys.stderr)
        if args.raw:
            for kind, label in (("asyncflow", "raw asyncflow LocalExecutionBackend"),
                                ("rhapsody", "raw rhapsody ConcurrentExecutionBackend")):
                result = await raw(kind, args.tasks, work)
                rows.append((label, f"import +{result['import']:.2f} s", f"{result['rate']:.0f}", "-"))
        after = await floor(args.tasks)
        rows.append(("plain create_subprocess_exec (after)", "-", f"{after:.0f}", "-"))
    print(f"\n{args.tasks} concurrent `true` tasks, {os.cpu_count()} cores, Python {sys.version.split()[0]}\n")
    print("| backend | start-up (to first result) | tasks/s | shutdown |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    asyncio.run(main())
