"""The reference document's full example (adaptive + per-iteration + static learners), for real.

Tasks are the document's, returning commands that run small scripts; each script records
its arguments and working directory in ``calls.jsonl`` of the learner's own directory.
The criterion prints ``10 * n_features / n_labeled`` of the learner's last simulation, so
learner 0 (adaptive) stops at iteration 3, learner 1 (per-iteration) at iteration 1 and
learner 2 (static) runs all 15 iterations.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers_al import expected_al_calls, journal, read_calls, read_cwds

from rose import LearnerConfig, TaskConfig
from rose.al import ParallelActiveLearner
from rose.metrics import MEAN_SQUARED_ERROR_MSE
from rose.testing import RecordingTracker


def build_reference_learner(engine: Any, scripts: Path) -> ParallelActiveLearner:
    """The document's learner and tasks (only ``code_path`` points at the test scripts)."""
    acl = ParallelActiveLearner(engine)
    code_path = f"{sys.executable} {scripts}"

    @acl.simulation_task
    async def simulation(*args: Any, **kwargs: Any) -> str:
        n_labeled = kwargs.get("--n_labeled", 100)
        n_features = kwargs.get("--n_features", 2)
        return f"{code_path}/sim.py --n_labeled {n_labeled} --n_features {n_features}"

    @acl.training_task
    async def training(*args: Any, **kwargs: Any) -> str:
        learning_rate = kwargs.get("--learning_rate", 0.1)
        return f"{code_path}/train.py --learning_rate {learning_rate}"

    @acl.active_learn_task
    async def active_learn(*args: Any, **kwargs: Any) -> str:
        return f"{code_path}/active.py"

    @acl.as_stop_criterion(metric_name=MEAN_SQUARED_ERROR_MSE, threshold=0.1)
    async def check_mse(*args: Any, **kwargs: Any) -> str:
        return f"{code_path}/check_mse.py"

    return acl


def sim(n_labeled: int | str, n_features: int) -> list[str]:
    return ["--n_labeled", str(n_labeled), "--n_features", str(n_features)]


async def test_full_example_adaptive_per_iteration_static(al_engine: Any, scripts: Path) -> None:
    acl = build_reference_learner(al_engine, scripts)
    tracker = RecordingTracker()
    acl.add_tracker(tracker)
    adaptive_sim = acl.create_adaptive_schedule(
        "simulation", lambda i: {"kwargs": {"--n_labeled": str(100 + i * 50), "--n_features": 2}}
    )
    configs = [
        LearnerConfig(simulation=adaptive_sim),
        LearnerConfig(
            simulation={
                0: TaskConfig(kwargs={"--n_labeled": "150", "--n_features": 3}),
                7: TaskConfig(kwargs={"--n_labeled": "250", "--n_features": 3}),
                -1: TaskConfig(kwargs={"--n_labeled": "400", "--n_features": 3}),
            }
        ),
        LearnerConfig(simulation=TaskConfig(kwargs={"--n_labeled": "300", "--n_features": 4})),
    ]

    states = [s async for s in acl.start(parallel_learners=3, max_iter=15, learner_configs=configs)]

    # streamed learner ids and per-learner iterations, stop flags and metric values
    assert {s.learner_id for s in states} == {0, 1, 2}
    by_learner = {lid: [s for s in states if s.learner_id == lid] for lid in (0, 1, 2)}
    assert [s.iteration for s in by_learner[0]] == [0, 1, 2, 3]
    assert [s.iteration for s in by_learner[1]] == [0, 1]
    assert [s.iteration for s in by_learner[2]] == list(range(15))
    assert [s.should_stop for s in by_learner[0]] == [False, False, False, True]
    assert [s.should_stop for s in by_learner[1]] == [False, True]
    assert not any(s.should_stop for s in by_learner[2])
    assert [s.metric_value for s in by_learner[0]] == pytest.approx([0.2, 20 / 150, 0.1, 0.08])
    assert [s.metric_value for s in by_learner[1]] == pytest.approx([0.2, 0.075])
    assert [s.metric_value for s in by_learner[2]] == pytest.approx([40 / 300] * 15)
    assert all(s.current_config is configs[s.learner_id] for s in states)
    assert acl.metric_values_per_iteration["learner-1"] == pytest.approx({0: 0.2, 1: 0.075})

    # the exact arguments every task received, iteration by iteration, in each learner's own directory
    run_dir = Path(acl.run_dir)
    dirs = {i: run_dir / f"learner-{i}" for i in range(3)}
    assert read_calls(dirs[0]) == expected_al_calls(lambda k: sim(100 + 50 * k, 2), last_iteration=3)
    assert read_calls(dirs[1]) == expected_al_calls(lambda k: sim({0: 150, 7: 250}.get(k, 400), 3), last_iteration=1)
    assert read_calls(dirs[2]) == expected_al_calls(lambda k: sim(300, 4), last_iteration=14)
    for i, directory in dirs.items():
        assert read_cwds(directory) == {os.fspath(directory)}, f"learner {i} ran outside its directory"

    # the parent's trackers see every state; each learner's journal records its own stop
    assert [(s.learner_id, s.iteration) for s in tracker.states] == [(s.learner_id, s.iteration) for s in states]
    assert tracker.manifest.parallel_count == 3
    assert tracker.manifest.learner_type == "ParallelActiveLearner"
    assert tracker.stop is not None and tracker.stop[1] == "max_iter_reached"
    stops = {i: [r for r in journal(d) if r["type"] == "stop"][-1]["reason"] for i, d in dirs.items()}
    assert stops == {0: "criterion_met", 1: "criterion_met", 2: "max_iter_reached"}


async def test_per_iteration_approach_with_none_awaited(al_engine: Any, scripts: Path) -> None:
    """Approach 2 of the document (shortened): ``await`` returns every learner's final state."""
    acl = build_reference_learner(al_engine, scripts)
    results = await acl.start(
        parallel_learners=3,
        max_iter=3,
        learner_configs=[
            LearnerConfig(simulation=TaskConfig(kwargs={"--n_labeled": "200", "--n_features": 2})),
            LearnerConfig(
                simulation={
                    0: TaskConfig(kwargs={"--n_labeled": "100"}),
                    5: TaskConfig(kwargs={"--n_labeled": "200"}),
                    10: TaskConfig(kwargs={"--n_labeled": "400"}),
                    -1: TaskConfig(kwargs={"--n_labeled": "500"}),
                },
                training={
                    0: TaskConfig(kwargs={"--learning_rate": "0.01"}),
                    5: TaskConfig(kwargs={"--learning_rate": "0.005"}),
                    -1: TaskConfig(kwargs={"--learning_rate": "0.001"}),
                },
            ),
            None,  # the base tasks' own defaults
        ],
    )
    assert [(s.learner_id, s.iteration, s.should_stop) for s in results] == [(0, 2, False), (1, 1, True), (2, 2, False)]
    run_dir = Path(acl.run_dir)
    assert read_calls(run_dir / "learner-1") == expected_al_calls(
        lambda k: sim({0: 100}.get(k, 500), 2),
        last_iteration=1,
        train_args=lambda k: ["--learning_rate", {0: "0.01"}.get(k, "0.001")],
    )
    assert read_calls(run_dir / "learner-2") == expected_al_calls(lambda k: sim(100, 2), last_iteration=2)
