"""Benchmark workloads for this project (run by ``run.py`` in this project's ``.venv``).

Each job builds its learner and engine first, then times only the campaign, exactly as a
user script would run it: ``async for state in learner.start(...)``. The backend is the
``local`` plugin when it is installed (the default users get), otherwise the test
backend of ``rose.testing`` (asyncflow threads), and the result says which.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from typing import Any

from _common import (
    CRITERION_THRESHOLD,
    METRIC,
    Timing,
    current_rss_mb,
    function_tasks,
    hops_ms,
    paired_campaigns,
    peak_rss_mb,
    run_worker,
    timed,
)


def _backend_name() -> str:
    import rose.plugins

    if "local" in rose.plugins.registry().backends:
        return "local"
    from rose.testing import TEST_BACKEND, TestBackendPlugin

    manager = rose.plugins.get_plugin_manager()
    if not manager.is_registered(TestBackendPlugin):
        manager.register(TestBackendPlugin, name="rose-testing")
    rose.plugins.invalidate()
    return TEST_BACKEND


async def _engine() -> tuple[Any, dict[str, Any]]:
    import rose

    name = _backend_name()
    engine = await rose.engine(name)
    backend = engine.backend
    executor = getattr(backend, "executor", None)
    upstream = next(
        (c for c in type(backend).__mro__ if c.__module__.startswith(("radical.asyncflow", "rhapsody"))),
        type(backend),
    )
    info = {
        "backend": name,
        "backend_class": f"{type(backend).__module__}:{type(backend).__qualname__}",
        "asyncflow_class": f"{upstream.__module__}:{upstream.__qualname__}",
        "executor": type(executor).__name__ if executor is not None else None,
        "workers": getattr(executor, "workers", None) or getattr(executor, "_max_workers", None),
    }
    return engine, info


def probe() -> dict[str, Any]:
    """Which backend this project's engine uses (ROSE 0.3 is run on the same kind)."""

    async def main() -> dict[str, Any]:
        engine, info = await _engine()
        await engine.shutdown()
        return info

    return asyncio.run(main())


def loop(iterations: int, task_seconds: float, tracker: str | None = None) -> dict[str, Any]:
    """Scenario 1 (and 5 with ``tracker="mlflow"``): a sequential AL loop of function tasks."""

    async def main() -> dict[str, Any]:
        from rose.al import SequentialActiveLearner

        engine, info = await _engine()
        try:
            learner = SequentialActiveLearner(engine)
            function_tasks(learner, task_seconds)
            if tracker:
                info.update(_add_tracker(learner, tracker))
            timing = await timed(learner.start(max_iter=iterations))
        finally:
            await engine.shutdown()
        return {
            **info,
            **timing.summary(),
            "per_iteration_ms": 1000 * timing.seconds / iterations,
            "loop_per_iteration_ms": timing.loop_per_state_ms(),
        }

    return asyncio.run(main())


def tracking(iterations: int, rounds: int, tracker: str) -> dict[str, Any]:
    """Scenario 5: campaigns without and with a tracker, alternated in this one process.

    A 5-iteration campaign each way comes first (for MLflow the tracked one starts the
    writer process); then ``rounds`` pairs of ``iterations``-iteration campaigns, without
    then with the tracker. Pairing inside one process keeps process-to-process variation
    (tens of percent on a 2-core VM) out of the ratio.
    """

    async def main() -> dict[str, Any]:
        from rose.al import SequentialActiveLearner

        engine, info = await _engine()

        async def campaign(n: int, tracked: bool) -> Timing:
            learner = SequentialActiveLearner(engine)
            function_tasks(learner, 0.0)
            if tracked:
                info.update(_add_tracker(learner, tracker))
            return await timed(learner.start(max_iter=n))

        try:
            return {**info, **await paired_campaigns(campaign, iterations, rounds)}
        finally:
            await engine.shutdown()

    return asyncio.run(main())


def _add_tracker(learner: Any, name: str) -> dict[str, Any]:
    """Attach tracker ``name``; its store is created first so the run times steady use."""
    import rose

    if name != "mlflow":
        learner.add_tracker(rose.tracker(name))
        return {"tracker": name}
    uri = os.environ["MLFLOW_TRACKING_URI"]
    if uri not in _stores:
        import mlflow  # the ~2 s import is a one-off, not a per-campaign cost
        from mlflow.tracking import MlflowClient

        MlflowClient(uri).search_experiments()  # creates and migrates the sqlite store
        _stores[uri] = mlflow.__version__
    learner.add_tracker(rose.tracker("mlflow", experiment_name="rose-bench", tracking_uri=uri))
    return {"tracker": "mlflow", "mlflow": _stores[uri], "tracking_uri": uri}


_stores: dict[str, str] = {}  # tracking URI -> MLflow version, once the store exists


class _Stamps:
    """Clock readings printed by the ``date +%s%N`` task processes, in task order."""

    def __init__(self) -> None:
        self.values: list[int] = []


def executable_loop(iterations: int) -> dict[str, Any]:
    """Scenario 2: the loop with ``date +%s%N`` executable tasks (each prints its start clock)."""

    async def main() -> dict[str, Any]:
        from rose.al import SequentialActiveLearner

        stamps = _Stamps()

        class Recording(SequentialActiveLearner):  # type: ignore[misc, valid-type]
            async def run_task(self, key: str, **options: Any) -> Any:
                result = await super().run_task(key, **options)
                stamps.values.append(int(str(result).split()[-1]))
                return result

        engine, info = await _engine()
        try:
            learner = Recording(engine)
            command = ["date", "+%s%N"]

            @learner.simulation_task
            async def simulation(*args: Any, **kwargs: Any) -> list[str]:
                return command

            @learner.training_task
            async def training(*args: Any, **kwargs: Any) -> list[str]:
                return command

            @learner.active_learn_task
            async def active_learn(*args: Any, **kwargs: Any) -> list[str]:
                return command

            @learner.as_stop_criterion(metric_name=METRIC, threshold=CRITERION_THRESHOLD)
            async def criterion(*args: Any, **kwargs: Any) -> list[str]:
                return command

            timing = await timed(learner.start(max_iter=iterations))
        finally:
            await engine.shutdown()
        return {
            **info,
            **timing.summary(),
            "per_iteration_ms": 1000 * timing.seconds / iterations,
            "tasks": len(stamps.values),
            **hops_ms(stamps.values),
        }

    return asyncio.run(main())


def parallel(learners: int, iterations: int) -> dict[str, Any]:
    """Scenario 3: ``learners`` parallel AL learners of no-op function tasks."""

    async def main() -> dict[str, Any]:
        from rose.al import ParallelActiveLearner

        counter: list[int] = []
        engine, info = await _engine()
        try:
            learner = ParallelActiveLearner(engine)
            function_tasks(learner, 0.0, counter)
            rss_before = current_rss_mb()
            timing = await timed(learner.start(parallel_learners=learners, max_iter=iterations))
        finally:
            await engine.shutdown()
        return {
            **info,
            **timing.summary(),
            "tasks": len(counter),
            "tasks_per_second": len(counter) / timing.seconds,
            "cpu_ms_per_task": 1000 * timing.cpu_seconds / max(1, len(counter)),
            "rss_before_mb": rss_before,
            "peak_rss_mb": peak_rss_mb(),
            "peak_delta_mb": peak_rss_mb() - rss_before,
        }

    return asyncio.run(main())


def _wide_policy(width: int, hold: bool) -> Any:
    """A policy (public API only) whose iteration runs ``width`` simulations at once."""
    import threading

    from rose import Outcome, Step
    from rose.learner import Learner

    class Wide(Learner):
        required_tasks = ("simulation",)
        gate = threading.Event()
        marks: dict[str, float] = {}

        async def prepare(self, step: Step) -> Any:
            if not hold:
                self.gate.set()
            runs = [asyncio.ensure_future(step.run("simulation", n=n)) for n in range(width)]
            if hold:  # every task submitted and waiting: that is "in flight"
                while len(self.asyncflow.components) < width:
                    await asyncio.sleep(0.001)
                self.marks["rss_in_flight_mb"] = current_rss_mb()
                self.marks["released"] = time.perf_counter()
                self.marks["released_cpu"] = time.process_time()
                self.gate.set()
            await asyncio.gather(*runs)
            self.marks["finished"] = time.perf_counter()
            self.marks["finished_cpu"] = time.process_time()
            return None

        async def evaluate(self, step: Step) -> Outcome:
            return Outcome(metric_value=None, should_stop=False)

    return Wide


def in_flight(tasks: int) -> dict[str, Any]:
    """Scenario 7: one iteration of ``tasks`` function tasks, all submitted before any ends."""

    async def main() -> dict[str, Any]:
        import gc

        engine, info = await _engine()
        try:
            warm = _wide_policy(64, hold=False)(engine)
            _gated_simulation(warm)
            await timed(warm.start(max_iter=1))
            policy = _wide_policy(tasks, hold=True)
            learner = policy(engine)
            _gated_simulation(learner)
            gc.collect()
            rss_before = current_rss_mb()
            timing = await timed(learner.start(max_iter=1))
        finally:
            await engine.shutdown()
        marks = learner.marks
        seconds = marks["finished"] - marks["released"]
        return {
            **info,
            **timing.summary(),
            "tasks": tasks,
            "completion_us": 1e6 * seconds / tasks,
            "completion_cpu_us": 1e6 * (marks["finished_cpu"] - marks["released_cpu"]) / tasks,
            "kb_per_task_in_flight": 1024.0 * (marks["rss_in_flight_mb"] - rss_before) / tasks,
        }

    return asyncio.run(main())


def _gated_simulation(learner: Any) -> None:
    gate = type(learner).gate

    @learner.simulation_task(as_executable=False)
    async def simulation(n: int = 0) -> int:
        gate.wait(60)  # blocks this worker thread until every task is in flight
        return n


def own_work(learners: int, iterations: int) -> dict[str, Any]:
    """Scenario 3e: scenario 3a on a no-op backend: CPU per task = ROSE's own work.

    The backend is asyncflow's local backend reduced to nothing: a function task's
    coroutine is awaited on the campaign's own loop, without a thread, a process or a
    queue. What is left per task is ROSE (task records, the journal, hooks, states) and
    the engine hand-off that every backend shares.
    """

    async def main() -> dict[str, Any]:
        from radical.asyncflow import LocalExecutionBackend, WorkflowEngine

        from rose.al import ParallelActiveLearner

        class NoopBackend(LocalExecutionBackend):  # type: ignore[misc]
            async def _execute_function(self, task: dict[str, Any]) -> tuple[dict[str, Any], str]:
                value = await task["function"](*task.get("args", ()), **task.get("kwargs", {}))
                task.update({"return_value": value, "stdout": "", "exit_code": 0})
                return task, "DONE"

            async def _handle_task(self, task: dict[str, Any]) -> None:
                try:
                    await super()._handle_task(task)
                finally:
                    self.tasks.pop(task["uid"], None)  # as every ROSE backend does: no growth per task

        from concurrent.futures import ThreadPoolExecutor

        backend = await NoopBackend(ThreadPoolExecutor(1))
        engine = await WorkflowEngine.create(backend=backend)
        counter: list[int] = []
        try:
            learner = ParallelActiveLearner(engine)
            function_tasks(learner, 0.0, counter)
            timing = await timed(learner.start(parallel_learners=learners, max_iter=iterations))
        finally:
            await engine.shutdown()
        return {
            "tasks": len(counter),
            "tasks_per_second": len(counter) / timing.seconds,
            "cpu_us_per_task": 1e6 * timing.cpu_seconds / max(1, len(counter)),
        }

    return asyncio.run(main())


if __name__ == "__main__":
    os.environ.setdefault("ROSE_RUNS_DIR", tempfile.mkdtemp(prefix="rose-bench-runs-"))
    run_worker({"probe": probe, "loop": loop, "executable_loop": executable_loop, "parallel": parallel,
                "tracking": tracking, "in_flight": in_flight, "own_work": own_work})
