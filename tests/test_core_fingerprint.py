"""Resume reuses a recorded result only for the same inputs (rose.fingerprint, rose.replay)."""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rose import LearnerConfig, Outcome, Step, TaskConfig
from rose.fingerprint import FILE_HASH_BYTES, file_digests, of_call
from rose.learner import Learner


def test_positional_values_count_not_only_their_shape() -> None:
    assert of_call([[1, 2, 3]], {}) != of_call([[4, 5, 6]], {})
    assert of_call([np.arange(3)], {}) != of_call([np.arange(3, 6)], {})
    assert of_call([np.arange(3)], {}) != of_call([np.arange(3).astype(np.float32)], {})
    assert of_call([(1, "a")], {"k": 2}) == of_call([(1, "a")], {"k": 2})
    assert of_call([], {}) == ""
    key = of_call([1, 2], {"pool": [3]})
    assert key.inputs.keys() == {"0", "1", "pool"}


def test_keys_stay_those_journals_already_hold() -> None:
    # a campaign journaled by an earlier 0.5 is resumed by this one: the same calls, the same keys
    assert of_call([None], {}) == "01b1bf8c3ed69c94"
    assert of_call([None], {}).inputs == {"0": "df75a12623cb"}
    assert of_call([True, False, 1, 1.0], {"b": None, "a": [1, 2]}) == of_call([True, False, 1, 1.0], {"a": [1, 2], "b": None})
    assert of_call([True], {}) != of_call([1], {}) and of_call([False], {}) != of_call([0], {})


def test_a_named_file_is_looked_at_on_every_call(tmp_path: Path) -> None:
    # keys of calls without files are kept for the next equal call; a call naming a file never is
    (tmp_path / "pool.txt").write_text("a")
    first = of_call(["pool.txt"], {}, str(tmp_path))
    assert first.paths == {"0": str(tmp_path / "pool.txt")}
    (tmp_path / "pool.txt").unlink()
    assert of_call(["pool.txt"], {}, str(tmp_path)).paths == first.paths
    assert of_call([None], {}) is of_call([None], {})


def test_values_orjson_cannot_write_still_count_by_value() -> None:
    assert of_call([[2**70]], {}) != of_call([[2**70 + 1]], {})


def test_an_arbitrary_object_counts_by_its_type() -> None:
    class Model:
        pass

    assert of_call([Model()], {}) == of_call([Model()], {})


def test_files_count_by_content_up_to_the_cap(tmp_path: Path) -> None:
    small = tmp_path / "small.txt"
    small.write_text("a")
    key = of_call(["small.txt"], {}, cwd=str(tmp_path))
    before = file_digests(key.paths)
    small.write_text("b")
    assert file_digests(key.paths) != before
    big = tmp_path / "big.bin"
    big.write_bytes(b"\0" * (FILE_HASH_BYTES + 1))
    assert file_digests(of_call([str(big)], {}).paths) == {"0": str(FILE_HASH_BYTES + 1)}
    assert file_digests(of_call(["not a file"], {}).paths) == {}


class RandomSubset(Learner):
    """Draws a random candidate subset each iteration (state NOT in the carry) and lets a task pick."""

    required_tasks = ("utility", "training")


    async def evaluate(self, step: Step) -> Outcome:
        candidates = random.sample(range(10_000), 5)  # unseeded on purpose: other numbers after a resume
        picked = await step.run("utility", candidates)
        self.used.append((step.iteration, candidates, picked))
        return Outcome(carry=await step.run("training", picked))

    used: list[tuple[int, list[int], int]]


def build_random(engine: Any, runs: Counter[str]) -> RandomSubset:
    learner = RandomSubset(engine)
    learner.used = []

    @learner.utility_task(as_executable=False)
    async def select(candidates: list[int]) -> int:
        runs["select"] += 1
        return max(candidates)

    @learner.training_task(as_executable=False)
    async def train(picked: int) -> int:
        return picked

    return learner


async def interrupt_after(learner: Learner, task: str, iteration: int, max_iter: int, **start: Any) -> None:
    consumer = asyncio.current_task()
    assert consumer is not None

    def interrupt(event: dict[str, Any]) -> None:
        if event["iteration"] == iteration and event["task"] == task and event["status"] == "done":
            consumer.cancel()

    learner.on_task_event(interrupt)
    with pytest.raises(asyncio.CancelledError):
        async for _state in learner.start(max_iter=max_iter, **start):
            pass
    consumer.uncancel()


async def test_resume_never_pairs_a_selection_with_other_candidates(
    rose_engine: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 26, failure 1: "policy uses 78, the task picked 159" after a resume."""
    runs: Counter[str] = Counter()
    learner = build_random(rose_engine, runs)
    await interrupt_after(learner, "utility", 1, 3)
    resumed = build_random(rose_engine, runs)
    with caplog.at_level(logging.WARNING):
        states = [s async for s in resumed.start(max_iter=3, resume=learner.run_dir)]
    assert [s.iteration for s in states] == [1, 2]
    for iteration, candidates, picked in resumed.used:
        assert picked == max(candidates), f"iteration {iteration}: picked {picked} is not from {candidates}"
    assert "task 'utility' of iteration 1 was recorded before the interruption with other inputs" in caplog.text
    assert "changed: positional argument 0" in caplog.text


async def test_the_same_inputs_reuse_the_recorded_result(rose_engine: Any) -> None:
    runs: Counter[str] = Counter()
    random.seed(7)
    learner = build_random(rose_engine, runs)
    await interrupt_after(learner, "utility", 1, 3)
    before = runs["select"]
    random.seed(7)
    random.sample(range(10_000), 5)  # the draw of iteration 0, whose carry the resume restores
    resumed = build_random(rose_engine, runs)
    [s async for s in resumed.start(max_iter=3, resume=learner.run_dir)]
    assert runs["select"] == before + 1  # only iteration 2 ran; iteration 1's result was reused


class Reader(Learner):
    """One task per iteration reading a file named in its configuration."""

    required_tasks = ("utility", "training")


    async def evaluate(self, step: Step) -> Outcome:
        text = await step.run("utility")
        return Outcome(carry=await step.run("training", text))


def build_reader(engine: Any, runs: Counter[str]) -> Reader:
    learner = Reader(engine)

    @learner.utility_task(as_executable=False)
    async def read(data: str) -> str:
        runs["read"] += 1
        return Path(data).read_text()

    @learner.training_task(as_executable=False)
    async def train(text: str) -> str:
        return text

    return learner


@pytest.mark.parametrize("edit", [False, True])
async def test_a_changed_input_file_runs_the_task_again(
    rose_engine: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture, edit: bool
) -> None:
    data = tmp_path / "data.txt"
    data.write_text("first")
    config = LearnerConfig(utility=TaskConfig(kwargs={"data": str(data)}))
    runs: Counter[str] = Counter()
    learner = build_reader(rose_engine, runs)
    await interrupt_after(learner, "utility", 0, 2, initial_config=config)
    if edit:
        data.write_text("second")
    resumed = build_reader(rose_engine, runs)
    with caplog.at_level(logging.WARNING):
        states = [s async for s in resumed.start(max_iter=2, initial_config=config, resume=learner.run_dir)]
    assert [s.iteration for s in states] == [0, 1]
    assert runs["read"] == (3 if edit else 2)  # iteration 0 again only when its file changed
    assert ("the file(s) named by its keyword 'data' changed" in caplog.text) is edit
