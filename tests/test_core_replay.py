"""Exact replay: a resumed campaign hands its tasks exactly the values recorded before the interruption."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rose.campaign import Outcome, Step
from rose.learner import Learner, TaskKind
from rose.streaming import LearnerRun
from rose.testing import PluginSandbox


class Pipeline(Learner):
    """simulation (a 70 KB stdout) -> training (numpy, tuples) -> analysis of both, per iteration."""

    required_tasks = ("simulation", "training", "utility")
    utility_task = TaskKind("utility")  # a task kind of its own (the core declares simulation and training)

    def start(self, max_iter: int = 0, **options: Any) -> LearnerRun:  # type: ignore[override]
        return super().start(max_iter, **options)

    async def prepare(self, step: Step) -> Any:
        stdout = await step.run("simulation")
        return stdout, await step.run("training", stdout)

    async def evaluate(self, step: Step) -> Outcome:
        stdout, trained = step.inputs
        await step.run("utility", stdout, trained)
        return Outcome(carry=(len(stdout), trained["weights"]))


def build(engine: Any, seen: list[tuple[Any, ...]], runs: Counter[str]) -> Pipeline:
    learner = Pipeline(engine)

    @learner.simulation_task
    async def simulation(*args: Any) -> list[str]:
        runs["simulation"] += 1
        return [sys.executable, "-c", "print('x' * 70_000); print('last line')"]

    @learner.training_task(as_executable=False)
    async def training(stdout: str) -> dict[str, Any]:
        runs["training"] += 1
        return {"weights": np.linspace(0.0, 1.0, 7).reshape(7, 1), "shape": (7, 1), "scale": np.float32(0.5),
                "keys": {1: "one"}, "blob": b"\x00\xff", "big": list(range(20_000)), "odd": float("inf")}

    @learner.utility_task(as_executable=False)
    async def analysis(stdout: str, trained: dict[str, Any]) -> object:
        runs["analysis"] += 1
        seen.append((stdout, trained))
        return object()  # cannot be stored: a resume must run it again, with a warning naming it

    return learner


async def test_resume_replays_large_stdout_and_numpy_results_exactly(
    rose_plugins: PluginSandbox, rose_engine: Any, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[tuple[Any, ...]] = []
    runs: Counter[str] = Counter()
    learner = build(rose_engine, seen, runs)
    consumer = asyncio.current_task()
    assert consumer is not None

    def interrupt(event: dict[str, Any]) -> None:
        if event["iteration"] == 1 and event["task"] == "training" and event["status"] == "done":
            consumer.cancel()

    learner.on_task_event(interrupt)
    with caplog.at_level(logging.WARNING), pytest.raises(asyncio.CancelledError):
        async for _state in learner.start(max_iter=3):
            pass
    consumer.uncancel()
    assert "the result of task 'utility' (iteration 0) cannot be stored" in caplog.text
    before = dict(runs)
    first_stdout, first_trained = seen[0]

    resumed_seen: list[tuple[Any, ...]] = []
    resumed = build(rose_engine, resumed_seen, runs)
    states = [s async for s in resumed.start(max_iter=3, resume=learner.run_dir)]
    assert [s.iteration for s in states] == [1, 2]
    # iteration 1: simulation and training replayed from the journal; only iteration 2 ran them
    assert runs["simulation"] == before["simulation"] + 1 and runs["training"] == before["training"] + 1
    assert runs["analysis"] >= before["analysis"] + 2  # unstorable: ran again (a cancelled thread may also finish)
    stdout, trained = resumed_seen[0]
    assert stdout == first_stdout and len(stdout) > 70_000
    assert isinstance(trained["weights"], np.ndarray) and trained["weights"].dtype == np.float64
    assert np.array_equal(trained["weights"], first_trained["weights"])
    assert trained["shape"] == (7, 1) and isinstance(trained["shape"], tuple)
    assert isinstance(trained["scale"], np.float32) and trained["keys"] == {1: "one"} and trained["blob"] == b"\x00\xff"
    assert trained["big"] == list(range(20_000)) and trained["odd"] == float("inf")
    assert any((Path(resumed.run_dir) / "results").iterdir())  # the large values live in files, not journal lines
