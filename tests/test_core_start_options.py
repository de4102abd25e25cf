"""A learner's start() options are declared as data, validated, journaled, and checked on resume."""

from __future__ import annotations

from typing import Any

import pytest
from attrs import field, frozen

from rose import LearnerConfig
from rose.errors import RoseError
from rose.journal import read_journal
from rose.learner import Learner, Outcome, Step
from rose.legacy import OldRunNames
from rose.options import StartOptions, configuration, whole_number
from rose.testing import PluginSandbox


@frozen(kw_only=True)
class BatchOptions(StartOptions):
    batch: int = field(default=2, validator=whole_number(minimum=1))
    label: str = "a"
    extra_configs: Any = configuration()


class BatchLearner(Learner, OldRunNames):
    """simulation(batch=...) per iteration; its options declared, positional after max_iter."""

    required_tasks = ("simulation",)
    options_class = BatchOptions
    start_positional = ("max_iter", "batch", "initial_config", "resume")

    async def evaluate(self, step: Step) -> Outcome:
        await step.run("simulation", batch=step.options["batch"])
        return Outcome()


def make(engine: Any, seen: list[int], run_dir: Any = None) -> BatchLearner:
    learner = BatchLearner(engine, run_dir=run_dir)

    @learner.simulation_task(as_executable=False)
    async def simulation(*, batch: int) -> dict[str, int]:
        seen.append(batch)
        return {"batch": batch}

    return learner


async def test_options_bind_by_position_and_keyword_and_are_journaled(
    rose_plugins: PluginSandbox, rose_engine: Any, tmp_path: Any
) -> None:
    seen: list[int] = []
    learner = make(rose_engine, seen, tmp_path / "run")
    final = await learner.start(2, 5, label="b")
    assert final.iteration == 1 and seen == [5, 5]
    assert learner.campaign is not None and learner.campaign.iteration == 2 and learner.stop_reason == "max_iter_reached"
    start = next(r for r in read_journal(str(tmp_path / "run")) if r["type"] == "start")
    assert start["options"] == {"batch": 5, "label": "b", "extra_configs": None}


async def test_bad_options_fail_before_any_task_runs(rose_plugins: PluginSandbox, rose_engine: Any) -> None:
    seen: list[int] = []
    learner = make(rose_engine, seen)
    with pytest.raises(ValueError, match="batch must be a whole number >= 1, got 0"):
        learner.start(max_iter=2, batch=0)
    with pytest.raises(TypeError, match="unknown option 'batches'.*batch, label, extra_configs"):
        learner.start(max_iter=2, batches=3)
    with pytest.raises(TypeError, match="'batch' twice"):
        learner.start(2, 3, batch=3)
    assert seen == []


async def test_resume_with_other_options_names_the_option_and_the_way_out(
    rose_plugins: PluginSandbox, rose_engine: Any, tmp_path: Any
) -> None:
    run_dir = tmp_path / "run"
    seen: list[int] = []
    await make(rose_engine, seen, run_dir).start(max_iter=1, batch=3)
    with pytest.raises(RoseError, match=r"started with batch=3, this start\(\) has batch=4.*allow_changed_options=True"):
        await make(rose_engine, seen, run_dir).start(max_iter=2, batch=4, resume=run_dir)
    assert seen == [3]
    # the same options continue the campaign (configurations may change); changed ones only when asked for
    await make(rose_engine, seen, run_dir).start(max_iter=2, batch=3, resume=run_dir, extra_configs=[LearnerConfig()])
    assert seen == [3, 3]
    await make(rose_engine, seen, run_dir).start(max_iter=3, batch=4, resume=run_dir, allow_changed_options=True)
    assert seen == [3, 3, 4]
    records = list(read_journal(str(run_dir)))
    assert [r["options"]["batch"] for r in records if r["type"] in ("start", "resume")] == [3, 3, 4]


async def test_teach_is_start_under_its_old_name(rose_plugins: PluginSandbox, rose_engine: Any) -> None:
    seen: list[int] = []
    learner = make(rose_engine, seen)
    with pytest.warns(DeprecationWarning, match=r"teach\(\) is deprecated and goes away in ROSE 0.6"):
        final = await learner.teach(1, 7, learner_config=LearnerConfig())
    assert final.iteration == 0 and seen == [7]
