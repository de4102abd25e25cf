"""The same workloads on ROSE 0.3 (``rose-surrogate-explorer`` 0.3.0).

Runs in the separate environment ``benchmarks/.rose03-venv`` (its import name is also
``rose``), written against ROSE 0.3's own API: an asyncflow ``WorkflowEngine`` built by
hand on the same backend class and worker count as this project's local backend.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
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


async def _engine(backend_class: str, workers: int | None) -> tuple[Any, dict[str, Any]]:
    from radical.asyncflow import WorkflowEngine

    module, _, name = backend_class.partition(":")
    cls = getattr(importlib.import_module(module), name)
    backend = await cls(ThreadPoolExecutor(max_workers=workers))
    engine = await WorkflowEngine.create(backend=backend, work_dir=tempfile.mkdtemp(prefix="rose03-engine-"))
    return engine, {"backend_class": backend_class, "workers": workers}


def loop(
    iterations: int, task_seconds: float, backend_class: str, workers: int | None, tracker: str | None = None
) -> dict[str, Any]:
    """Scenario 1 (5 with ``tracker="mlflow"``) on ROSE 0.3."""

    async def main() -> dict[str, Any]:
        from rose.al import SequentialActiveLearner

        engine, info = await _engine(backend_class, workers)
        try:
            learner = SequentialActiveLearner(engine)
            function_tasks(learner, task_seconds)
            make_tracker = _tracker_factory(tracker) if tracker else None
            started = time.perf_counter()
            if make_tracker is not None:  # 0.3 calls on_start inside add_tracker: time it too
                learner.add_tracker(make_tracker())
            timing = await timed(learner.start(max_iter=iterations), started)
        finally:
            await engine.shutdown()
        return {
            **info,
            **timing.summary(),
            "per_iteration_ms": 1000 * timing.seconds / iterations,
            "loop_per_iteration_ms": timing.loop_per_state_ms(),
        }

    return asyncio.run(main())


def tracking(iterations: int, rounds: int, tracker: str, backend_class: str, workers: int | None) -> dict[str, Any]:
    """Scenario 5 on ROSE 0.3, paired as in this project's workload."""

    async def main() -> dict[str, Any]:
        from rose.al import SequentialActiveLearner

        engine, info = await _engine(backend_class, workers)
        make_tracker = _tracker_factory(tracker)

        async def campaign(n: int, tracked: bool) -> Timing:
            learner = SequentialActiveLearner(engine)
            function_tasks(learner, 0.0)
            started = time.perf_counter()
            if tracked:  # 0.3 calls on_start inside add_tracker: time it too
                learner.add_tracker(make_tracker())
            return await timed(learner.start(max_iter=n), started)

        try:
            return {**info, **await paired_campaigns(campaign, iterations, rounds)}
        finally:
            await engine.shutdown()

    return asyncio.run(main())


def _tracker_factory(name: str) -> Any:
    if name != "mlflow":
        raise ValueError(f"ROSE 0.3 has no tracker {name!r}")
    import mlflow
    from mlflow.tracking import MlflowClient

    from rose.integrations.mlflow_tracker import MLflowTracker

    uri = os.environ["MLFLOW_TRACKING_URI"]
    mlflow.set_tracking_uri(uri)
    MlflowClient(uri).search_experiments()  # creates and migrates the sqlite store
    return lambda: MLflowTracker(experiment_name="rose-bench")


def executable_loop(iterations: int, backend_class: str, workers: int | None) -> dict[str, Any]:
    """Scenario 2 on ROSE 0.3: ``date +%s%N`` executable tasks."""

    async def main() -> dict[str, Any]:
        from rose.al import SequentialActiveLearner

        futures: list[Any] = []

        class Recording(SequentialActiveLearner):  # type: ignore[misc, valid-type]
            def _register_task(self, task_obj: dict[str, Any], deps: Any = None) -> Any:
                future = super()._register_task(task_obj, deps)
                futures.append(future)
                return future

        engine, info = await _engine(backend_class, workers)
        try:
            learner = Recording(engine)
            command = "date +%s%N"

            @learner.simulation_task
            async def simulation(*args: Any, **kwargs: Any) -> str:
                return command

            @learner.training_task
            async def training(*args: Any, **kwargs: Any) -> str:
                return command

            @learner.active_learn_task
            async def active_learn(*args: Any, **kwargs: Any) -> str:
                return command

            @learner.as_stop_criterion(metric_name=METRIC, threshold=CRITERION_THRESHOLD)
            async def criterion(*args: Any, **kwargs: Any) -> str:
                return command

            timing = await timed(learner.start(max_iter=iterations))
        finally:
            await engine.shutdown()
        stamps = [int(str(f.result()).split()[-1]) for f in futures if f.done() and not f.cancelled()]
        return {
            **info,
            **timing.summary(),
            "per_iteration_ms": 1000 * timing.seconds / iterations,
            "tasks": len(stamps),
            **hops_ms(stamps),
        }

    return asyncio.run(main())


def parallel(learners: int, iterations: int, backend_class: str, workers: int | None) -> dict[str, Any]:
    """Scenario 3 on ROSE 0.3."""

    async def main() -> dict[str, Any]:
        from rose.al import ParallelActiveLearner

        counter: list[int] = []
        engine, info = await _engine(backend_class, workers)
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


if __name__ == "__main__":
    os.chdir(tempfile.mkdtemp(prefix="rose03-bench-"))  # ROSE 0.3 writes into the working directory
    run_worker({"loop": loop, "executable_loop": executable_loop, "parallel": parallel, "tracking": tracking})
