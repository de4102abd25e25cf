"""Parallel learners resume each learner where its journal ends."""

from __future__ import annotations

import collections
from pathlib import Path
from typing import Any

import pytest

from rose.al import ParallelActiveLearner
from rose.errors import RoseError
from rose.journal import read_journal


def build(engine: Any, calls: collections.Counter[tuple[Any, str, int]]) -> ParallelActiveLearner:
    acl = ParallelActiveLearner(engine)

    @acl.simulation_task(as_executable=False)
    async def simulation(*args: Any, **kwargs: Any) -> dict[str, int]:
        return {"labeled": kwargs["--learner"] * 100 + kwargs["--i"]}

    @acl.training_task(as_executable=False)
    async def training(*args: Any, **kwargs: Any) -> None:
        return None

    @acl.active_learn_task(as_executable=False)
    async def active_learn(*args: Any, **kwargs: Any) -> int:
        calls[(kwargs["--learner"], "active_learn", kwargs["--i"])] += 1
        return kwargs["--i"]

    return acl


def configs(acl: ParallelActiveLearner) -> list[Any]:
    from rose import LearnerConfig

    out = []
    for learner in (0, 1):
        every = acl.create_adaptive_schedule("any", lambda i, n=learner: {"kwargs": {"--learner": n, "--i": i}})
        out.append(LearnerConfig(simulation=every, training=every, active_learn=every))
    return out


async def test_parallel_campaign_resumes_each_learner(al_engine: Any, tmp_path: Path) -> None:
    calls: collections.Counter[tuple[Any, str, int]] = collections.Counter()
    acl = build(al_engine, calls)
    first = await acl.start(parallel_learners=2, max_iter=2, learner_configs=configs(acl))
    assert [s.iteration for s in first] == [1, 1]
    run_dir = acl.run_dir

    again = build(al_engine, calls)
    final = await again.start(parallel_learners=2, max_iter=4, learner_configs=configs(again), resume=run_dir)
    assert [(s.learner_id, s.iteration) for s in final] == [(0, 3), (1, 3)]
    assert final[1].metric_history == [] and final[1].state["labeled"] == 103
    for learner in (0, 1):
        assert [calls[(learner, "active_learn", i)] for i in range(4)] == [1, 1, 1, 1]
        journal = read_journal(str(Path(run_dir) / f"learner-{learner}"))
        assert [r["state"]["iteration"] for r in journal if r["type"] == "iteration"] == [0, 1, 2, 3]


def plain(engine: Any) -> ParallelActiveLearner:
    acl = ParallelActiveLearner(engine)

    @acl.simulation_task(as_executable=False)
    async def simulation(*args: Any, **kwargs: Any) -> int:
        return 1

    @acl.training_task(as_executable=False)
    async def training(*args: Any, **kwargs: Any) -> int:
        return 1

    @acl.active_learn_task(as_executable=False)
    async def active_learn(*args: Any, **kwargs: Any) -> int:
        return 1

    return acl


@pytest.mark.parametrize(("resumed_with", "words"), [
    (2, "learner-2 would be left unfinished"),
    (4, "learner-3 would start from iteration 0"),
])
async def test_resuming_with_another_learner_count_is_an_error_naming_the_difference(
    al_engine: Any, resumed_with: int, words: str
) -> None:
    first = plain(al_engine)
    await first.start(parallel_learners=3, max_iter=1)
    run_dir = Path(first.run_dir)
    before = {path: path.read_bytes() for path in run_dir.rglob("journal.jsonl")}

    with pytest.raises(RoseError, match=f"started with parallel_learners=3, this start.. has parallel_learners={resumed_with}"):
        await plain(al_engine).start(parallel_learners=resumed_with, max_iter=2, resume=str(run_dir))
    # changed options allowed on purpose: the learner count still cannot change
    with pytest.raises(RoseError) as caught:
        await plain(al_engine).start(parallel_learners=resumed_with, max_iter=2, resume=str(run_dir),
                                     allow_changed_options=True)
    message = str(caught.value)
    assert f"a campaign of 3 learners (learner-0, learner-1, learner-2), and this start asks for {resumed_with}" in message
    assert words in message and "Resume it with the same 3 learners, or start a new campaign" in message
    assert {path: path.read_bytes() for path in run_dir.rglob("journal.jsonl")} == before  # nothing written
    assert not (run_dir / "learner-3").exists()


async def test_a_parallel_campaign_killed_before_its_start_record_resumes(al_engine: Any, tmp_path: Path) -> None:
    """kill -9 after the campaign's journal file was created but before its start record: nothing ran,
    so a resume starts every learner (it was refused as "a campaign of 0 learners")."""
    run_dir = tmp_path / "runs" / "killed-early"
    run_dir.mkdir(parents=True)
    (run_dir / "journal.jsonl").write_bytes(b"")
    states = await plain(al_engine).start(parallel_learners=2, max_iter=2, resume=str(run_dir))
    assert [(s.learner_id, s.iteration) for s in states] == [(0, 1), (1, 1)]
    for learner in (0, 1):
        journal = read_journal(str(run_dir / f"learner-{learner}"))
        assert [r["state"]["iteration"] for r in journal if r["type"] == "iteration"] == [0, 1]
