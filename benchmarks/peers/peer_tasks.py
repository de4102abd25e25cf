"""The task bodies every tool runs in scenario 10, and the clock that times them.

Standard library only: this module is imported by the peers' worker processes (Dask and
Parsl workers, Ray workers) as well as by ROSE's, so every tool runs the very same
function. The benchmark worker puts this directory on ``PYTHONPATH`` so that cluster
workers import the functions by name instead of receiving them by value.
"""

from __future__ import annotations

import resource
import subprocess
import time
from typing import Any

#: the AL loop of the issue: 20 iterations of 4 simulations of 50 ms, a 50 ms training, a selection
AL_ITERATIONS = 20
AL_SIMULATIONS = 4
AL_TASK_SECONDS = 0.05
#: every tool gets this many workers (threads or processes)
WORKERS = 2
TRUE = "/bin/true"


def noop(i: int) -> int:
    """A no-op task: returns its argument."""
    return i


def simulate(x: float) -> float:
    """A 50 ms simulation (sleeps: a stand-in for work done outside the interpreter)."""
    time.sleep(AL_TASK_SECONDS)
    return x * 0.5 + 1.0


def train(results: list[float]) -> float:
    """A 50 ms training on the simulations' results; returns the model (a number)."""
    time.sleep(AL_TASK_SECONDS)
    return sum(results) / len(results)


def select(model: float) -> list[float]:
    """The selection: the next simulations' inputs (no waiting)."""
    return [model + k for k in range(AL_SIMULATIONS)]


def train_inputs(inputs: Any = ()) -> float:
    """``train`` for tools that hand a task its upstream results as ``inputs=`` (Parsl)."""
    return train(list(inputs))


def train_each(*results: float) -> float:
    """``train`` for tools that resolve only top-level arguments (Ray)."""
    return train(list(results))


def run_true(i: int = 0) -> int:
    """One ``/bin/true`` command through ``subprocess``, as a function task would run it."""
    return subprocess.run([TRUE], check=True).returncode


def true_command(i: int) -> str:
    """The command line of a Parsl ``bash_app`` (no default: Parsl passes defaults as keywords)."""
    return TRUE


def cpu_seconds_of_tree() -> float:
    """CPU seconds (user + system) of this process and every child process still alive.

    With ``psutil`` the children's figures include their threads; without it only this
    process is counted (``resource.getrusage``), and the result says so (see ``clock``).
    """
    try:
        import psutil
    except ImportError:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    me = psutil.Process()
    total = float(sum(me.cpu_times()[:2]))
    for child in me.children(recursive=True):
        try:
            total += sum(child.cpu_times()[:2])
        except psutil.Error:
            pass
    return total


class Clock:
    """Wall and CPU time (this process and its live children) of one timed section."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.cpu = cpu_seconds_of_tree()
        self.seconds = 0.0
        self.cpu_seconds = 0.0

    def stop(self) -> Clock:
        """Record the end of the section."""
        self.seconds = time.perf_counter() - self.started
        self.cpu_seconds = cpu_seconds_of_tree() - self.cpu
        return self

    def rates(self, tasks: int) -> dict[str, Any]:
        """The section's figures for ``tasks`` tasks."""
        return {
            "tasks": tasks,
            "seconds": self.seconds,
            "tasks_per_second": tasks / self.seconds,
            "cpu_us_per_task": 1e6 * self.cpu_seconds / tasks,
            "cpu_counts_children": _has_psutil(),
        }


def _has_psutil() -> bool:
    try:
        import psutil  # noqa: F401
    except ImportError:
        return False
    return True


def warm_up_size(n: int) -> int:
    """Tasks run before the timed section: enough to start every worker and import everything."""
    return max(20, min(500, n // 20))


def check_al_result(selection: list[float], iterations: int = AL_ITERATIONS) -> None:
    """Every tool's AL loop must compute the same selection (the loops really ran)."""
    expected = expected_selection(iterations)
    if [round(v, 9) for v in selection] != [round(v, 9) for v in expected]:
        raise AssertionError(f"AL loop computed {selection}, expected {expected}")


def expected_selection(iterations: int = AL_ITERATIONS) -> list[float]:
    """The selection after ``iterations`` iterations, computed without any tool."""
    inputs = [float(k) for k in range(AL_SIMULATIONS)]
    for _ in range(iterations):
        model = sum(x * 0.5 + 1.0 for x in inputs) / len(inputs)
        inputs = [model + k for k in range(AL_SIMULATIONS)]
    return inputs
