"""A campaign stops cleanly before its deadline, for every learner kind, and continues exactly on resume."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

import rose
import rose.al
from rose.deadline import DeadlineError
from rose.journal import read_journal
from rose.metrics import MEAN_SQUARED_ERROR_MSE

STEP = 0.15  # seconds each task sleeps: an iteration of the sequential learner takes about 4 * STEP


@pytest.fixture(autouse=True)
def small_margin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROSE_DEADLINE_MARGIN", "0.05")
    for name in ("SLURM_JOB_ID", "SLURM_JOB_END_TIME", "ROSE_DEADLINE"):
        monkeypatch.delenv(name, raising=False)


def _al(cls: Any, engine: Any, run_dir: Path) -> Any:
    learner = cls(engine, run_dir=run_dir)

    @learner.simulation_task(as_executable=False)
    async def simulate(*args: Any, **kwargs: Any) -> list[int]:
        await asyncio.sleep(STEP)
        return [len(args)]

    @learner.training_task(as_executable=False)
    async def train(*args: Any, **kwargs: Any) -> str:
        await asyncio.sleep(STEP)
        return "model"

    @learner.active_learn_task(as_executable=False)
    async def select(*args: Any, **kwargs: Any) -> list[int]:
        await asyncio.sleep(STEP)
        return [1, 2]

    @learner.as_stop_criterion(metric_name=MEAN_SQUARED_ERROR_MSE, threshold=-1.0, as_executable=False)
    async def check(*args: Any, **kwargs: Any) -> float:
        await asyncio.sleep(STEP)
        return 0.5

    return learner


def _rl(engine: Any, run_dir: Path) -> Any:
    from rose.rl import SequentialReinforcementLearner

    learner = SequentialReinforcementLearner(engine, run_dir=run_dir)

    @learner.environment_task(as_executable=False)
    async def environment(*args: Any, **kwargs: Any) -> dict[str, int]:
        await asyncio.sleep(2 * STEP)
        return {"steps": 1}

    @learner.update_task(as_executable=False)
    async def update(*args: Any, **kwargs: Any) -> str:
        await asyncio.sleep(2 * STEP)
        return "policy"

    return learner


def _steady(engine: Any, run_dir: Path) -> Any:
    from rose.al import SteadyStateActiveLearner

    learner = SteadyStateActiveLearner(engine, run_dir=run_dir)
    counter = iter(range(10_000))

    @learner.simulation_task(as_executable=False)
    async def simulate(point: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(3 * STEP)
        return point

    @learner.training_task(as_executable=False)
    async def train(*args: Any, **kwargs: Any) -> str:
        return "model"

    @learner.active_learn_task(as_executable=False)
    async def select(model: Any, pending: Any = (), count: int = 1, **kwargs: Any) -> list[int]:
        return [next(counter) for _ in range(count)]

    return learner


KINDS = {
    "sequential-al": (lambda engine, d: _al(rose.al.SequentialActiveLearner, engine, d), {}),
    "parallel-al": (lambda engine, d: _al(rose.al.ParallelActiveLearner, engine, d), {"parallel_learners": 2}),
    "steady-al": (_steady, {"in_flight": 2}),
    "sequential-rl": (_rl, {}),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
async def test_every_learner_kind_stops_before_its_deadline_and_resumes(kind: str, tmp_path: Path) -> None:
    build, options = KINDS[kind]
    async with rose.engine("local") as engine:
        learner = build(engine, tmp_path / "run")
        began = time.time()
        states = [s async for s in learner.start(max_iter=50, deadline=began + 2.0, **options)]
        took = time.time() - began
        assert learner.stop_reason == "deadline", (kind, learner.stop_reason)
        assert states, "at least one iteration fits in two seconds"
        assert took < 2.0 + 1.0, f"{kind}: stopped {took:.2f} s after starting with a 2 s deadline"
        records = list(read_journal(str(tmp_path / "run" / "journal.jsonl")))
        assert [r["reason"] for r in records if r["type"] == "stop"] == ["deadline"]
        allocation = [r for r in records if r["type"] == "allocation"]
        assert allocation and allocation[0]["deadline"] == pytest.approx(began + 2.0)
        assert allocation[0]["deadline_source"] == "user"

        done_before = len(states)
        again = build(engine, tmp_path / "run")
        more = [s async for s in again.start(max_iter=done_before + 1, resume=tmp_path / "run", **options)]
        assert again.stop_reason == "max_iter_reached"
        assert more, "the resumed campaign continues where the deadline stopped it"


async def test_work_still_running_at_the_margin_is_cancelled_and_runs_again_on_resume(tmp_path: Path) -> None:
    async with rose.engine("local") as engine:
        learner = _al(rose.al.SequentialActiveLearner, engine, tmp_path / "run")
        calls: list[float] = []

        @learner.training_task(as_executable=False)
        async def train(*args: Any, **kwargs: Any) -> str:
            calls.append(time.time())
            await asyncio.sleep(30)
            return "model"

        began = time.monotonic()
        states = [s async for s in learner.start(max_iter=3, deadline="1s")]
        assert time.monotonic() - began < 5
        assert states == [] and learner.stop_reason == "deadline"
        records = list(read_journal(str(tmp_path / "run" / "journal.jsonl")))
        assert any(r["type"] == "interrupted" and r.get("reason") == "deadline" for r in records)
        assert not [r for r in records if r["type"] == "task" and r["task"] == "training" and r["status"] == "done"]
        assert len(calls) == 1  # the slow training started once and was cancelled, not retried


async def test_a_deadline_in_the_past_or_shorter_than_any_iteration_is_an_error_before_anything_runs(tmp_path: Path) -> None:
    async with rose.engine("local") as engine:
        learner = _al(rose.al.SequentialActiveLearner, engine, tmp_path / "run")
        with pytest.raises(DeadlineError, match="in the past"):
            learner.start(max_iter=2, deadline=time.time() - 5)
        assert [s async for s in learner.start(max_iter=2)]
        again = _al(rose.al.SequentialActiveLearner, engine, tmp_path / "run")
        with pytest.raises(DeadlineError, match="no iteration of this campaign has ever taken less than"):
            [s async for s in again.start(max_iter=4, resume=tmp_path / "run", deadline=time.time() + 0.2)]
        assert len([r for r in read_journal(str(tmp_path / "run" / "journal.jsonl")) if r["type"] == "resume"]) == 0


SCRIPT = """
import asyncio, os, signal, sys
import rose
import rose.al
from rose.al import SequentialActiveLearner
from rose.metrics import MEAN_SQUARED_ERROR_MSE

async def main():
    async with rose.engine("local") as engine:
        learner = SequentialActiveLearner(engine, run_dir=sys.argv[1])
        for kind in ("simulation", "training", "active_learn"):
            async def task(*a, **k):
                await asyncio.sleep(float(sys.argv[2]))
                return [1]
            getattr(learner, kind + "_task")(as_executable=False)(task)

        @learner.as_stop_criterion(metric_name=MEAN_SQUARED_ERROR_MSE, threshold=-1.0, as_executable=False)
        async def check(*a, **k):
            return 0.5

        async for state in learner.start(max_iter=100):
            print("iteration", state.iteration, flush=True)
            if len(sys.argv) > 3 and state.iteration == 0:
                os.kill(os.getpid(), getattr(signal, sys.argv[3]))

asyncio.run(main())
"""


def _rose_run(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "campaign.py"
    script.write_text(textwrap.dedent(SCRIPT))
    environment = {**os.environ, "ROSE_DEADLINE_MARGIN": "0.05", **(env or {})}
    return subprocess.run([sys.executable, "-m", "rose", "run", str(script), *args], capture_output=True, text=True,
                          env=environment, timeout=120, cwd=tmp_path)


def test_rose_run_deadline_exits_75_with_the_resume_command(tmp_path: Path) -> None:
    done = _rose_run(tmp_path, "--deadline", "8s", "--", str(tmp_path / "run"), "0.5")
    assert done.returncode == 75, done.stderr
    assert "stopped at its deadline" in done.stderr and "--resume" in done.stderr
    assert "Traceback" not in done.stderr
    bad = _rose_run(tmp_path, "--deadline", "yesterday", "--", str(tmp_path / "other"), "0.1")
    assert bad.returncode == 2 and "--deadline 'yesterday' is not a time" in bad.stderr


@pytest.mark.parametrize(("sig", "deadline", "reason", "code"), [
    ("SIGUSR1", None, "deadline", 75),          # Slurm's warning signal: stop at the next iteration
    ("SIGTERM", "30s", "deadline", 75),         # SIGTERM as the allocation ends
    ("SIGTERM", "2h", "stopped", 143),          # SIGTERM long before the deadline: a person cancelled it
])
def test_the_allocations_signals_lead_to_a_clean_stop(tmp_path: Path, sig: str, deadline: str | None, reason: str,
                                                      code: int) -> None:
    args = ["--deadline", deadline] if deadline else []
    done = _rose_run(tmp_path, *args, "--", str(tmp_path / "run"), "0.2", sig)
    assert done.returncode == code, done.stderr
    stops = [r["reason"] for r in read_journal(str(tmp_path / "run" / "journal.jsonl")) if r["type"] == "stop"]
    assert stops == [reason]
    assert "Traceback" not in done.stderr
