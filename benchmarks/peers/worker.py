"""One scenario-10 measurement in a fresh process: ``python worker.py '<job json>' <result.json>``.

Jobs (``run.py`` starts them; the peers' from ``.venv-bench``, ROSE's from ``.venv``):

* ``{"job": "measure", "peer": "dask-threads", "workload": "fan-out", "n": 10000}``: start
  the tool (timed as ``startup_seconds``), run a warm-up of the same workload, then the
  timed workload; ``workload`` is ``fan-out``, ``al-loop`` or ``executables``;
* ``{"job": "wrapping_dask", "n": ..., "rounds": ...}`` and ``{"job": "wrapping_radical", ...}``:
  ROSE on a Dask cluster / RADICAL-Pilot pilot against the same tasks submitted straight to
  that cluster / pilot, alternated in this one process (see ``wrapping.py``);
* ``{"job": "versions"}``: the installed version of every tool this interpreter has.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]
# cluster workers (Dask, Ray, Parsl) import the task bodies by name; Parsl starts its worker
# pool with the command `process_worker_pool.py` from this interpreter's bin directory
os.environ["PYTHONPATH"] = os.pathsep.join([str(HERE), *filter(None, [os.environ.get("PYTHONPATH")])])
os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])

from _common import run_worker  # noqa: E402
from peer_tasks import AL_ITERATIONS, Clock, check_al_result, warm_up_size  # noqa: E402

#: peer name -> (module, class, mode)
PEERS: dict[str, tuple[str, str, str]] = {
    "threads": ("floor", "Floor", ""),
    "dask-threads": ("dask_peer", "DaskThreads", ""),
    "dask-distributed": ("dask_peer", "DaskDistributed", ""),
    "ray": ("ray_peer", "Ray", ""),
    "parsl-threads": ("parsl_peer", "Parsl", "threads"),
    "parsl-htex": ("parsl_peer", "Parsl", "htex"),
    "rose-local": ("rose_peer", "Rose", "local"),
    "rose-dask": ("rose_peer", "Rose", "dask"),
    "rose-radical": ("rose_peer", "Rose", "radical"),
}
WORKLOADS = ("fan-out", "al-loop", "executables")
AL_WARM_UP = 20  # no-op tasks that start every worker before the AL loop is timed


def measure(peer: str, workload: str, n: int = 0, iterations: int = AL_ITERATIONS) -> dict[str, Any]:
    """Start ``peer``, warm it up, time ``workload`` once (``n`` tasks; the AL loop: ``iterations``), stop it."""
    if peer not in PEERS:
        raise ValueError(f"unknown peer {peer!r}; one of {', '.join(PEERS)}")
    if workload not in WORKLOADS:
        raise ValueError(f"unknown workload {workload!r}; one of {', '.join(WORKLOADS)}")
    module_name, class_name, mode = PEERS[peer]
    module = importlib.import_module(module_name)
    tool = getattr(module, class_name)
    if peer.startswith("rose-"):
        return asyncio.run(_measure_async(tool, mode, workload, n, iterations))
    started = Clock()
    instance = tool(mode)
    startup = started.stop().seconds
    try:
        result = _run(instance, workload, n, iterations)
    finally:
        instance.close()
    return {**result, "startup_seconds": startup}


async def _measure_async(tool: Any, mode: str, workload: str, n: int, iterations: int) -> dict[str, Any]:
    started = Clock()
    instance = tool(mode)
    await instance.open()
    startup = started.stop().seconds
    try:
        result = await _run_async(instance, workload, n, iterations)
    finally:
        await instance.close()
    return {**result, "startup_seconds": startup}


def _run(instance: Any, workload: str, n: int, iterations: int) -> dict[str, Any]:
    if workload == "fan-out":
        instance.fan_out(warm_up_size(n))
        clock = Clock()
        instance.fan_out(n)
        return clock.stop().rates(n)
    if workload == "executables":
        instance.executables(warm_up_size(n))
        clock = Clock()
        instance.executables(n)
        return clock.stop().rates(n)
    instance.fan_out(AL_WARM_UP)
    clock = Clock()
    selection = instance.al_loop(iterations)
    clock.stop()
    check_al_result(selection, iterations)
    return {"seconds": clock.seconds, "cpu_seconds": clock.cpu_seconds, "iterations": iterations}


async def _run_async(instance: Any, workload: str, n: int, iterations: int) -> dict[str, Any]:
    if workload == "fan-out":
        await instance.fan_out(warm_up_size(n))
        clock = Clock()
        await instance.fan_out(n)
        return clock.stop().rates(n)
    if workload == "executables":
        await instance.executables(warm_up_size(n))
        clock = Clock()
        await instance.executables(n)
        return clock.stop().rates(n)
    await instance.fan_out(AL_WARM_UP)
    clock = Clock()
    selection = await instance.al_loop(iterations)
    clock.stop()
    check_al_result(selection, iterations)
    return {"seconds": clock.seconds, "cpu_seconds": clock.cpu_seconds, "iterations": iterations}


def wrapping_dask(n: int, rounds: int) -> dict[str, Any]:
    """ROSE on a Dask LocalCluster against the same tasks submitted to it directly."""
    from wrapping import dask_pairs

    return asyncio.run(dask_pairs(n, rounds))


def wrapping_radical(n: int, rounds: int) -> dict[str, Any]:
    """ROSE on a RADICAL-Pilot pilot against plain RP tasks on the same pilot."""
    from wrapping import radical_pairs

    return asyncio.run(radical_pairs(n, rounds))


def versions() -> dict[str, Any]:
    """Installed versions of the tools (those this interpreter has)."""
    import importlib.metadata as metadata

    found = {}
    for name in ("dask", "distributed", "ray", "parsl", "rose-core", "radical.pilot", "radical.asyncflow"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return {"versions": found, "python": sys.version.split()[0]}


if __name__ == "__main__":
    run_worker({"measure": measure, "wrapping_dask": wrapping_dask, "wrapping_radical": wrapping_radical,
                "versions": versions})
