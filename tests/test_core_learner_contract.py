"""rose.testing.LearnerContract as a third party uses it: no pytest-asyncio configuration, the
documented repeated-call pattern accepted, state outside the carry caught with a message that
says what to move (issue 26, failures 2, 3 and 5)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

POLICIES = '''
from typing import Any

from rose import Outcome, Step
from rose.learner import Learner
from rose.testing import LearnerContract


class Twice(Learner):
    """Calls the same task twice per iteration with the same keywords (documented as supported)."""

    required_tasks = ("simulation",)

    async def evaluate(self, step: Step) -> Outcome:
        total = step.inputs or 0
        first = await step.run("simulation", total, scale=2, record_state=False)
        second = await step.run("simulation", total, scale=2, record_state=False)
        met, value = await step.criterion()
        return Outcome(metric_value=value, should_stop=met, carry=total + first["n"] + second["n"])


class Forgetful(Learner):
    """Counts labels on self: lost on resume."""

    required_tasks = ("simulation",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.labels = 0

    async def evaluate(self, step: Step) -> Outcome:
        self.labels += (await step.run("simulation", self.labels, scale=1))["n"]
        met, value = await step.criterion()
        return Outcome(metric_value=value, should_stop=met)


def add_task(learner: Learner) -> Learner:
    @learner.simulation_task(as_executable=False)
    async def simulate(total: int, scale: int = 1) -> dict[str, int]:
        return {"n": scale}

    return learner


class TestTwiceContract(LearnerContract):
    def make_learner(self, engine: Any) -> Learner:
        return add_task(Twice(engine))


class TestForgetfulContract(LearnerContract):
    def make_learner(self, engine: Any) -> Learner:
        return add_task(Forgetful(engine))
'''


def test_the_kit_runs_without_pytest_asyncio_and_says_what_to_move(tmp_path: Path) -> None:
    (tmp_path / "test_policies.py").write_text(textwrap.dedent(POLICIES))
    env = {**os.environ, "ROSE_STRICT_PLUGINS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:asyncio", "-p", "no:cacheprovider", "-c", os.devnull,
         "--rootdir", str(tmp_path), "-W", "ignore::pytest.PytestAssertRewriteWarning", str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    out = done.stdout + done.stderr
    assert "TestTwiceContract" not in "".join(line for line in out.splitlines() if line.startswith("FAILED")), out
    failed = sorted(line.split("::")[-1].split(" ")[0] for line in out.splitlines() if line.startswith("FAILED"))
    assert failed == [
        "test_interrupted_campaign_equals_an_uninterrupted_one",
        "test_resume_continues_the_interrupted_iteration_without_rerunning_tasks",
    ], out
    assert "ContractFailure: LearnerContract check 'an interrupted and resumed campaign equals an uninterrupted one' " \
           "failed for policy test_policies.Forgetful" in out, out
    assert "got other inputs than in the uninterrupted run (changed: positional argument 0)" in out
    assert "keep everything the next iteration needs in the carry" in out
    assert "18 passed" in out  # nine checks for Twice, seven for Forgetful
