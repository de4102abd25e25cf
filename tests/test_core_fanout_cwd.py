"""Each learner of a parallel campaign runs its commands in its own directory (``learner-<i>``):
the backend is asked once per fan-out whether it can place tasks, and every child follows
that answer. Real local backend and real ParallelActiveLearner."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import rose


def learner_marking_its_directory(engine: Any, run_dir: Path) -> Any:
    from rose.al import ParallelActiveLearner

    acl = ParallelActiveLearner(engine, run_dir=run_dir)

    @acl.simulation_task
    async def simulation(*upstream: Any) -> str:
        return "touch simulation-ran-here"

    @acl.training_task
    async def training(*upstream: Any) -> str:
        return "touch training-ran-here"

    @acl.active_learn_task
    async def active_learn(*upstream: Any) -> str:
        return "touch selection-ran-here"

    @acl.as_stop_criterion(metric_name="mean_squared_error_mse", threshold=0.0, as_executable=False)
    async def never(*upstream: Any) -> float:
        return 1.0

    return acl


async def test_every_learner_runs_its_commands_in_its_own_directory(tmp_path: Path) -> None:
    engine = await rose.engine("local")
    try:
        acl = learner_marking_its_directory(engine, tmp_path / "campaign")
        async for _ in acl.start(parallel_learners=3, max_iter=1):
            pass
    finally:
        await engine.shutdown()
    for n in range(3):
        own = tmp_path / "campaign" / f"learner-{n}"
        assert sorted(p.name for p in own.glob("*-ran-here")) == [
            "selection-ran-here", "simulation-ran-here", "training-ran-here"]
    assert not list((tmp_path / "campaign").glob("*-ran-here"))

