"""``resume=True`` and ``rose run --resume latest``: the newest campaign of *this* script.

The newest by recorded start time (not by directory name: ``...-9`` sorts after ``...-17``),
among campaigns of the same learner type with the same tasks (names and kinds); none: an
error listing every candidate and why it was not taken. ``rose runs`` lists in the same order.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from rose import LearnerConfig
from rose.campaign import Outcome, Step
from rose.errors import RoseError
from rose.journal import read_journal
from rose.learner import Learner, TaskKind
from rose.resume_choice import choose_campaign
from rose.runs import find_runs
from rose.streaming import LearnerRun
from rose.testing import PluginSandbox


class Loop(Learner):
    """Simulation, then the criterion, every iteration."""

    required_tasks = ("simulation",)
    utility_task = TaskKind("utility")  # a task kind of its own (the core declares simulation and training)

    def start(self, max_iter: int = 0, config: LearnerConfig | None = None, **options: Any) -> LearnerRun:  # type: ignore[override]
        return super().start(max_iter, initial_config=config, **options)

    async def evaluate(self, step: Step) -> Outcome:
        await step.run("simulation")
        if self.has_task("utility"):
            await step.run("utility")
        return Outcome()


class OtherLoop(Loop):
    """Another learner type with the same tasks."""


def make(engine: Any, run_dir: Path | None = None, *, cls: type[Loop] = Loop, utility: bool = False) -> Loop:
    learner = cls(engine, run_dir=run_dir, name="loop")

    @learner.simulation_task(as_executable=False)
    async def simulation(*args: Any, **kwargs: Any) -> dict[str, Any]:
        return {"n": 1}

    if utility:
        @learner.utility_task(as_executable=False)
        async def utility_task(*args: Any, **kwargs: Any) -> int:
            return 0

    return learner


def iterations(run_dir: Path) -> list[int]:
    return [r["state"]["iteration"] for r in read_journal(str(run_dir)) if r["type"] == "iteration"]


async def test_resume_true_takes_the_campaign_started_last_not_the_last_name(
    rose_plugins: PluginSandbox, rose_engine: Any, tmp_path: Path
) -> None:
    root = tmp_path / "runs"
    older, newer = root / "20261206-100000-loop-9", root / "20261206-100000-loop-17"
    await make(rose_engine, older).start(max_iter=1)
    await make(rose_engine, newer).start(max_iter=1)
    assert find_runs(root) == [str(older), str(newer)]  # the order `rose runs` lists them in

    await make(rose_engine).start(max_iter=2, resume=True)
    assert iterations(newer) == [0, 1] and iterations(older) == [0]


async def test_resume_true_skips_campaigns_of_other_tasks_or_learner_types(
    rose_plugins: PluginSandbox, rose_engine: Any, tmp_path: Path
) -> None:
    root = tmp_path / "runs"
    mine, other_tasks, other_type = (root / f"20261206-100000-loop-{n}" for n in (2, 3, 4))
    await make(rose_engine, mine).start(max_iter=1)
    await make(rose_engine, other_tasks, utility=True).start(max_iter=1)
    await make(rose_engine, other_type, cls=OtherLoop).start(max_iter=1)

    await make(rose_engine).start(max_iter=2, resume=True)
    assert iterations(mine) == [0, 1]
    assert iterations(other_tasks) == [0] and iterations(other_type) == [0]


async def test_no_matching_campaign_is_an_error_listing_each_candidate_and_why(
    rose_plugins: PluginSandbox, rose_engine: Any, tmp_path: Path
) -> None:
    root = tmp_path / "runs"
    other_tasks, other_type = root / "20261206-100000-loop-3", root / "20261206-100000-loop-4"
    await make(rose_engine, other_tasks, utility=True).start(max_iter=1)
    await make(rose_engine, other_type, cls=OtherLoop).start(max_iter=1)

    with pytest.raises(RoseError) as caught:
        await make(rose_engine).start(max_iter=2, resume=True)
    message = str(caught.value)
    assert "no campaign under" in message and "Loop" in message and "simulation" in message
    assert str(other_tasks) in message and "utility" in message and "other tasks" in message
    assert str(other_type) in message and "written by a OtherLoop" in message
    assert "resume=" in message  # the way out: name the directory, or start a new campaign
    assert iterations(other_tasks) == [0] and iterations(other_type) == [0]
    with pytest.raises(FileNotFoundError):  # what the old error was: callers catching it still do
        choose_campaign("Loop", {"simulation": "simulation"}, root=str(root))


WORKFLOW = textwrap.dedent(
    '''
    import asyncio
    import sys

    import rose
    from rose.al import SequentialActiveLearner

    async def main():
        async with rose.engine("local", max_workers=2) as engine:
            learner = SequentialActiveLearner(engine, name="cli-run")

            @learner.simulation_task(as_executable=False)
            async def simulate(*upstream):
                return {"labeled_count": 1}

            @learner.training_task(as_executable=False)
            async def train(*upstream):
                return "model"

            @learner.active_learn_task(as_executable=False)
            async def select(*upstream):
                return "batch"

            await learner.start(max_iter=int(sys.argv[1]))

    asyncio.run(main())
    '''
)


def rose_run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "rose", "run", *args], capture_output=True, text=True, cwd=tmp_path,
                          timeout=120)


def test_rose_run_resume_latest_takes_the_newest_campaign_of_the_script(tmp_path: Path) -> None:
    script = tmp_path / "workflow.py"
    script.write_text(WORKFLOW)
    assert rose_run(tmp_path, str(script), "--", "1").returncode == 0
    (mine,) = find_runs(tmp_path / "runs")
    # a newer campaign of the same learner type and name, but other tasks
    stranger = tmp_path / "runs" / "20991231-235959-cli-run"
    stranger.mkdir()
    manifest = {"learner_type": "SequentialActiveLearner", "tasks": {"simulation": {"kind": "simulation"}}}
    start = {"type": "start", "time": time.time() + 60, "learner_id": None, "manifest": manifest}
    (stranger / "journal.jsonl").write_text(json.dumps(start) + "\n")

    result = rose_run(tmp_path, str(script), "--resume", "latest", "--", "3")
    assert result.returncode == 0, result.stderr
    assert iterations(Path(mine)) == [0, 1, 2]
    assert [r["type"] for r in read_journal(str(stranger))] == ["start"]
    assert f"resuming {mine} at iteration 2 (1 already done)" in result.stderr
    assert f"rose show {Path(mine).name}" in result.stderr


async def test_resume_true_on_a_learner_given_its_directory_resumes_that_directory(
    rose_plugins: PluginSandbox, rose_engine: Any, tmp_path: Path
) -> None:
    own = tmp_path / "experiments" / "a"
    await make(rose_engine, own).start(max_iter=1)
    newer = tmp_path / "runs" / "20991231-000000-loop"
    await make(rose_engine, newer).start(max_iter=1)

    await make(rose_engine, own).start(max_iter=2, resume=True)
    assert iterations(own) == [0, 1] and iterations(newer) == [0]
