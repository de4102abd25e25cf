"""A learning policy under ``dry-run`` tells placeholders apart (rose.is_placeholder); no stray folders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import rose
from rose import Learner, Outcome, Step
from rose.engine import engine as make_engine


class CountsLabels(Learner):
    """Reads its simulation's dict result: a placeholder would be a TypeError without the check."""

    required_tasks = ("simulation",)


    async def evaluate(self, step: Step) -> Outcome:
        found = await step.run("simulation", record_state=False)
        if rose.is_placeholder(found):
            found = {"labels": []}  # a dry run: nothing was labelled
        total = (step.inputs or 0) + len(found["labels"])
        self.register_state("labeled_count", total)
        return Outcome(carry=total)


def test_is_placeholder() -> None:
    from rose.placeholders import placeholder

    assert rose.is_placeholder(placeholder("simulation#1"))
    assert rose.is_placeholder(placeholder("simulation#1", executable=True))
    assert not rose.is_placeholder("<dry-run a>\nmore output\n")
    assert not rose.is_placeholder({"labels": []}) and not rose.is_placeholder("0.5\n") and not rose.is_placeholder(None)


@pytest.mark.parametrize("as_executable", [False, True])
async def test_a_policy_reading_results_runs_dry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, as_executable: bool) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ROSE_RUNS_DIR", raising=False)
    async with make_engine("dry-run") as engine:
        learner = CountsLabels(engine, run_dir=tmp_path / "campaign")

        @learner.simulation_task(as_executable=as_executable)
        async def simulate() -> Any:
            return ["sim.py"] if as_executable else {"labels": [1, 2]}

        states = [s async for s in learner.start(max_iter=2)]
    assert [s.labeled_count for s in states] == [0, 0]
    assert not (tmp_path / "runs").exists(), "rose.engine() left runs/.engines behind although run_dir= was given"
