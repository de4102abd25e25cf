"""A ``break`` out of any learner, then a resume at once in the same process: nothing of the
abandoned campaign runs beside the resumed one.

Python closes the stream after a ``break`` only a few turns of the event loop later (its
async-generator hook); until then the abandoned campaign's tasks run. A steady-state learner
has simulations in flight at every state it yields, and a resume restarts exactly those: a
command must not be running twice at once (two copies writing the same files). Real local
backend, real executables.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

import rose

TICKS = 8  # each simulation is alive for ~0.4 s, writing a line every 50 ms


def steady(engine: Any, log: Path, name: str) -> Any:
    from rose.al import SteadyStateActiveLearner

    learner = SteadyStateActiveLearner(engine)

    @learner.simulation_task(shell=True)
    async def simulate(point: int, point_id: int = 0) -> str:
        return (f"for i in $(seq {TICKS}); do echo {name} {point} $(date +%s.%N) >> {log}; sleep 0.05; done; "
                f"echo {point}")

    @learner.training_task(as_executable=False)
    async def train(results: list[Any]) -> int:
        return len(results)

    @learner.active_learn_task(as_executable=False)
    async def select(model: Any, pending: list[int], count: int) -> list[int]:
        return [100 * (model or 0) + len(pending) + i for i in range(count)]  # what the journal gives back

    return learner


def lines(log: Path) -> list[tuple[str, str, float]]:
    out = []
    for line in log.read_text().splitlines():
        name, point, when = line.split()
        out.append((name, point, float(when)))
    return out


@pytest.mark.timeout(120)
async def test_a_steady_state_campaign_resumed_at_once_after_a_break_never_runs_a_command_twice_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROSE_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.chdir(tmp_path)
    log = tmp_path / "alive.log"
    async with rose.engine("local") as engine:
        first = steady(engine, log, "first")
        async for _state in first.start(max_iter=3, in_flight=2):
            break  # two simulations are running now
        second = steady(engine, log, "second")
        states = [s async for s in second.start(max_iter=3, in_flight=2, resume=first.run_dir)]
    assert second.stop_reason == "max_iter_reached" and states
    seen = lines(log)
    resumed = min(when for name, _point, when in seen if name == "second")
    late = sorted({point for name, point, when in seen if name == "first" and when > resumed})
    assert late == [], f"the abandoned campaign's simulations {late} still ran after the resumed campaign's first one began"


@pytest.mark.timeout(120)
async def test_breaking_out_of_a_sequential_learner_cancels_its_commands_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After ``break`` the next line of the user's code may start other work: the abandoned tasks are
    stopped within a few event-loop turns, not whenever the garbage collector gets to them."""
    monkeypatch.setenv("ROSE_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.chdir(tmp_path)
    log = tmp_path / "alive.log"
    async with rose.engine("local") as engine:
        learner = steady(engine, log, "first")
        async for _state in learner.start(max_iter=3, in_flight=2):
            break
        await asyncio.sleep(0.3)  # the commands had ~0.4 s left; SIGTERM ends them at once
        size = log.stat().st_size
        await asyncio.sleep(0.3)
        assert log.stat().st_size == size, "the abandoned campaign's commands were still running 0.3 s after the break"
