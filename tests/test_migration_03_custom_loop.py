"""ROSE 0.3's custom loop on the base Learner works (issue 26, 8): upstream's examples/active_learn/advanced.

``sim = simulation()`` submits at once and returns an awaitable, ``training(sim)`` waits for ``sim``
(ROSE resolves the dependency: the task gets ``sim``'s result), the tasks are journaled, and
``await check_accuracy(active)`` gives ``(should_stop, value)``.
"""

from __future__ import annotations

import asyncio
import sys
import warnings
from pathlib import Path
from typing import Any

import rose
from rose import Learner
from rose.journal import read_journal
from rose.metrics import MODEL_ACCURACY

SIMULATION = "import sys, time; time.sleep(0.05); open('samples.txt', 'a').write(sys.argv[1] + '\\n'); print('simulated')"
TRAINING = "import sys; n = len(open('samples.txt').read().split()); open('model.txt', 'w').write(str(n)); print(n)"
ACTIVE = "import sys; print('selected', open('model.txt').read())"
ACCURACY = "import sys; n = int(open('model.txt').read()); print(min(1.0, n / 4))"


async def test_the_03_advanced_custom_loop(rose_engine: Any, tmp_path: Path) -> None:
    acl = Learner(rose_engine, run_dir=tmp_path / "campaign")
    python = sys.executable
    seen: dict[str, list[Any]] = {"training": [], "active": []}

    @acl.simulation_task
    async def simulation(*args: Any, **kwargs: Any) -> list[str]:
        return [python, "-c", SIMULATION, str(kwargs.get("iteration", 0))]

    @acl.training_task
    async def training(*args: Any) -> list[str]:
        seen["training"].append(args)
        return [python, "-c", TRAINING]

    @acl.active_learn_task
    async def active_learn(*args: Any) -> list[str]:
        seen["active"].append(args)
        return [python, "-c", ACTIVE]

    @acl.as_stop_criterion(metric_name=MODEL_ACCURACY, threshold=0.99)
    async def check_accuracy(*args: Any) -> list[str]:
        return [python, "-c", ACCURACY]

    values = []
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # "coroutine ... was never awaited" fails the test
        for acl_iter in range(10):
            sim = simulation(iteration=acl_iter)
            assert isinstance(sim, asyncio.Future)  # submitted at once, awaitable
            train = training(sim)
            active = active_learn(sim, train)
            stop, value = await check_accuracy(active)
            values.append(value)
            if stop:
                break
        await acl.shutdown()
    assert values == [0.25, 0.5, 0.75, 1.0]
    # each task got its upstream results (not futures or coroutines): ROSE resolved the dependencies
    assert seen["training"][0] == ("simulated\n",)
    assert seen["active"][1] == ("simulated\n", "2\n")
    records = list(read_journal(str(tmp_path / "campaign")))
    done = [(r["iteration"], r["task"]) for r in records if r["type"] == "task" and r["status"] == "done"]
    assert done[:4] == [(0, "simulation"), (0, "training"), (0, "active_learn"), (0, "criterion")]
    assert len(done) == 16 and [r["state"]["metric_value"] for r in records if r["type"] == "iteration"] == values
    assert [r["reason"] for r in records if r["type"] == "stop"] == ["criterion_met"]


async def test_a_direct_call_inside_a_campaign_runs_as_part_of_it(rose_engine: Any) -> None:
    """Inside start() a policy may still await a decorated task directly (the 0.3 habit)."""

    class Direct(Learner):
        async def evaluate(self, step: rose.Step) -> rose.Outcome:
            return rose.Outcome(carry=await self.double(step.iteration))

    learner = Direct(rose_engine)

    @learner.utility_task(as_executable=False)
    async def double(x: int) -> int:
        return 2 * x

    learner.double = double  # type: ignore[attr-defined]
    states = [s async for s in learner.start(max_iter=2)]
    assert [s.iteration for s in states] == [0, 1]
