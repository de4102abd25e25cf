"""SeqUQLearner and ParallelUQLearner with function tasks that record what they receive."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from rose import LearnerConfig, TaskConfig
from rose.metrics import MEAN_SQUARED_ERROR_MSE, PREDICTIVE_VARIANCE
from rose.testing import RecordingTracker
from rose.uq import ParallelUQLearner, SeqUQLearner, UQLearnerConfig

# per model, the criterion value at each iteration (the criterion reads its iteration from its config)
MSE = {"m1": [0.5, 0.05, 0.01], "m2": [0.5, 0.3, 0.05]}


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.lock = threading.Lock()

    def add(self, *item: Any) -> None:
        with self.lock:
            self.calls.append(item)

    def of(self, task: str) -> list[tuple[Any, ...]]:
        return [c[1:] for c in self.calls if c[0] == task]


def uq_tasks(learner: Any, rec: Recorder, *, spread: float = 1.0, uq_threshold: float | None = None) -> None:
    @learner.simulation_task(as_executable=False)
    async def simulation(*args: Any, **kwargs: Any) -> dict[str, Any]:
        rec.add("sim", kwargs.get("round"), args)
        return {"labeled": kwargs.get("round")}

    @learner.training_task(as_executable=False)
    async def training(*args: Any, **kwargs: Any) -> str:
        rec.add("train", kwargs.get("round"), kwargs["--model_name"])
        return f"trained-{kwargs['--model_name']}"

    @learner.prediction_task(as_executable=False)
    async def prediction(model: str, **kwargs: Any) -> float:
        rec.add("predict", kwargs.get("round"), kwargs["--model_name"], kwargs["--iteration"], model)
        return spread * kwargs["--iteration"]

    if uq_threshold is None:

        @learner.uncertainty_task(as_executable=False)
        async def uncertainty(predictions: list[list[float]], **kwargs: Any) -> float:
            rec.add("uq", kwargs.get("round"), predictions)
            return 1.0

    else:

        @learner.uncertainty_quantification(
            uq_metric_name=PREDICTIVE_VARIANCE, query_size=4, threshold=uq_threshold, as_executable=False
        )
        async def uncertainty(predictions: list[list[float]], **kwargs: Any) -> float:
            rec.add("uq", kwargs.get("round"), predictions)
            flat = [p for model in predictions for p in model]
            mean = sum(flat) / len(flat)
            return sum((p - mean) ** 2 for p in flat) / len(flat)

    @learner.active_learn_task(as_executable=False)
    async def active_learn(uq_result: Any, **kwargs: Any) -> str:
        rec.add("al", kwargs.get("round"), uq_result)
        return "selected"

    @learner.as_stop_criterion(metric_name=MEAN_SQUARED_ERROR_MSE, threshold=0.1, as_executable=False)
    async def criterion(al_result: str, **kwargs: Any) -> float:
        rec.add("criterion", kwargs.get("round"), kwargs["--model_name"], al_result)
        return MSE[kwargs["--model_name"]][kwargs["round"]]


def per_round_config() -> tuple[LearnerConfig, dict[str, dict[int, TaskConfig]]]:
    """Every task reads the round (iteration) from its per-iteration configuration."""
    tasks = ("simulation", "training", "prediction", "uncertainty", "active_learn", "criterion")
    fields = {task: {k: TaskConfig(kwargs={"round": k}) for k in range(5)} for task in tasks}
    return UQLearnerConfig(**fields), fields


async def test_seq_uq_loop_honours_configs_and_stops_models(al_engine: Any) -> None:
    learner = SeqUQLearner(al_engine)
    rec = Recorder()
    uq_tasks(learner, rec)
    config, fields = per_round_config()
    tracker = RecordingTracker()
    learner.add_tracker(tracker)

    states = [s async for s in learner.start(["m1", "m2"], num_predictions=3, max_iter=5, learning_config=config)]

    # the campaign stops when every model met the criterion: m1 at iteration 1, m2 at iteration 2
    assert [s.iteration for s in states] == [0, 1, 2]
    assert [s.should_stop for s in states] == [False, False, True]
    assert [s.get("criterion_values") for s in states] == [
        {"m1": 0.5, "m2": 0.5}, {"m1": 0.05, "m2": 0.3}, {"m2": 0.05}
    ]
    assert [s.metric_value for s in states] == pytest.approx([0.5, 0.175, 0.05])
    assert [s.get("models_training") for s in states] == [["m1", "m2"], ["m1", "m2"], ["m2"]]
    assert learner.model_metric_values == {"m1": {0: 0.5, 1: 0.05}, "m2": {0: 0.5, 1: 0.3, 2: 0.05}}
    assert tracker.stop is not None and tracker.stop[1] == "criterion_met"
    assert tracker.manifest.extra["model_names"] == ["m1", "m2"]

    # one simulation per round (never per model), its config index = the round
    assert [c[0] for c in rec.of("sim")] == [0, 1, 2]
    # training per model still training; m1 stops training after meeting the criterion
    assert sorted(rec.of("train")) == [(0, "m1"), (0, "m2"), (1, "m1"), (1, "m2"), (2, "m2")]
    # num_predictions per model, each with its own prediction index, fed the model's training result
    assert sorted(c for c in rec.of("predict") if c[0] == 2) == [(2, "m2", j, "trained-m2") for j in range(3)]
    assert len(rec.of("predict")) == 3 * 5
    # the uncertainty task gets the predictions of the models still training, per model
    assert [c for c in rec.of("uq")] == [(0, [[0, 1, 2], [0, 1, 2]]), (1, [[0, 1, 2], [0, 1, 2]]), (2, [[0, 1, 2]])]
    assert [c for c in rec.of("al")] == [(0, 1.0), (1, 1.0), (2, 1.0)]  # the uncertainty result
    assert [s.uq_value for s in states] == [1.0, 1.0, 1.0]
    # the criterion's per-iteration configuration is honoured (ROSE 0.3 ignored it)
    assert sorted(rec.of("criterion")) == [
        (0, "m1", "selected"), (0, "m2", "selected"), (1, "m1", "selected"), (1, "m2", "selected"), (2, "m2", "selected")
    ]
    # the keywords ROSE adds never leak into the user's configuration objects
    for task, by_round in fields.items():
        for k, task_config in by_round.items():
            assert task_config.kwargs == {"round": k}, task


async def test_uncertainty_threshold_stops_the_campaign(al_engine: Any) -> None:
    learner = SeqUQLearner(al_engine)
    rec = Recorder()
    uq_tasks(learner, rec, spread=0.01, uq_threshold=0.001)
    config, _ = per_round_config()
    final = await learner.start(["m1", "m2"], num_predictions=2, max_iter=4, learning_config=config)
    assert final.iteration == 0 and final.should_stop and final.metric_value is None
    assert final.uq_value == pytest.approx(0.000025)
    assert learner.get_uncertainty_results() == {0: pytest.approx(0.000025)}
    assert learner.query_size == 4
    assert rec.of("al") == []  # stopped before selecting


async def test_parallel_uq_learners(al_engine: Any) -> None:
    learner = ParallelUQLearner(al_engine)
    rec = Recorder()
    uq_tasks(learner, rec)
    config, _ = per_round_config()
    states = [
        s async for s in learner.start(
            learner_names=["l1", "l2"], model_names=["m1", "m2"], num_predictions=1, max_iter=2,
            learner_configs={"l1": config, "l2": config},
        )
    ]
    assert sorted((s.learner_id, s.iteration) for s in states) == [("l1", 0), ("l1", 1), ("l2", 0), ("l2", 1)]
    assert set(learner.metric_values_per_iteration) == {"learner-l1", "learner-l2"}
    assert learner.metric_values_per_iteration["learner-l1"] == pytest.approx({0: 0.5, 1: 0.175})
    assert set(learner.uncertainty_values_per_iteration) == {"learner-l1", "learner-l2"}
    assert sorted(p.name for p in Path(learner.run_dir).iterdir() if p.is_dir()) == ["learner-l1", "learner-l2"]
    finals = await learner.teach(["l2", "l1"], ["m1"], 1, 1, learner_configs={"l1": config, "l2": config})
    assert [s.learner_id for s in finals] == ["l2", "l1"]


def test_uq_validation() -> None:
    learner = ParallelUQLearner(object())
    uq_tasks(learner, Recorder())
    with pytest.raises(ValueError, match="model_names must be a non-empty list"):
        learner.start(["l1"], [], max_iter=1)
    with pytest.raises(ValueError, match="num_predictions must be a whole number >= 1"):
        learner.start(["l1"], ["m"], num_predictions=0, max_iter=1)
    with pytest.raises(ValueError, match=r"unknown learner\(s\) \['l3'\]"):
        learner.start(["l1", "l2"], ["m"], max_iter=1, learner_configs={"l3": None})
    with pytest.raises(ValueError, match="learner_configs has 1 entries but there are 2 learners"):
        learner.start(["l1", "l2"], ["m"], max_iter=1, learner_configs=[None])
    seq = SeqUQLearner(object())
    with pytest.raises(ValueError, match=r"needs task\(s\) \['training', 'prediction', 'active_learn'\]"):
        seq.start(["m"], max_iter=1)
    with pytest.raises(ValueError, match="is not a registered metric"):
        seq.uncertainty_quantification(uq_metric_name="my_score", query_size=1, threshold=0.1)
