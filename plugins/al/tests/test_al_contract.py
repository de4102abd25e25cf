"""Every active learner of this plugin passes rose.testing.LearnerContract."""

from __future__ import annotations

from typing import Any, ClassVar

from rose import LearnerConfig
from rose.al import AlgorithmSelector, ParallelActiveLearner, SequentialActiveLearner
from rose.learner import Learner
from rose.streaming import LearnerRun
from rose.testing import LearnerContract
from rose.uq import ParallelUQLearner, SeqUQLearner


def add_al_tasks(learner: Learner, *, named_algorithms: tuple[str, ...] = ()) -> Learner:
    @learner.simulation_task(as_executable=False)
    async def simulate(*upstream: Any) -> dict[str, Any]:
        return {"labeled_count": 5 + 5 * len(upstream)}

    @learner.training_task(as_executable=False)
    async def train(*upstream: Any, **kwargs: Any) -> str:
        return "model"

    if named_algorithms:
        for name in named_algorithms:
            @learner.active_learn_task(name=name, as_executable=False)
            async def select(*upstream: Any) -> list[int]:
                return [1, 2]
    else:
        @learner.active_learn_task(as_executable=False)
        async def select(*upstream: Any) -> list[int]:
            return [1, 2]

    return learner


class TestSequentialActiveLearnerContract(LearnerContract):
    def make_learner(self, engine: Any) -> Learner:
        return add_al_tasks(SequentialActiveLearner(engine))


class TestParallelActiveLearnerContract(LearnerContract):
    streamed_children = True
    learner_ids: ClassVar[list[Any]] = [0, 1]

    def make_learner(self, engine: Any) -> Learner:
        return add_al_tasks(ParallelActiveLearner(engine))

    def start(self, learner: Any, *, max_iter: int, config: LearnerConfig | None, resume: Any = None) -> LearnerRun:
        return learner.start(parallel_learners=2, max_iter=max_iter, learner_configs=[config, config], resume=resume)


class TestAlgorithmSelectorContract(LearnerContract):
    streamed_children = True
    learner_ids: ClassVar[list[Any]] = ["algo_1", "algo_2"]

    def make_learner(self, engine: Any) -> Learner:
        return add_al_tasks(AlgorithmSelector(engine), named_algorithms=("algo_1", "algo_2"))

    def start(self, learner: Any, *, max_iter: int, config: LearnerConfig | None, resume: Any = None) -> LearnerRun:
        return learner.start(max_iter=max_iter, algorithm_configs={"algo_1": config, "algo_2": config}, resume=resume)


def add_uq_tasks(learner: Learner) -> Learner:
    add_al_tasks(learner)

    @learner.prediction_task(as_executable=False)
    async def predict(*upstream: Any, **kwargs: Any) -> float:
        return 0.5

    return learner


class TestSeqUQLearnerContract(LearnerContract):
    def make_learner(self, engine: Any) -> Learner:
        return add_uq_tasks(SeqUQLearner(engine))

    def start(self, learner: Any, *, max_iter: int, config: LearnerConfig | None, resume: Any = None) -> LearnerRun:
        return learner.start(["m1"], 2, max_iter, learning_config=config, resume=resume)


class TestParallelUQLearnerContract(LearnerContract):
    streamed_children = True
    learner_ids: ClassVar[list[Any]] = ["a", "b"]

    def make_learner(self, engine: Any) -> Learner:
        return add_uq_tasks(ParallelUQLearner(engine))

    def start(self, learner: Any, *, max_iter: int, config: LearnerConfig | None, resume: Any = None) -> LearnerRun:
        return learner.start(["a", "b"], ["m1"], 2, max_iter, learner_configs={"a": config, "b": config}, resume=resume)


def add_steady_tasks(learner: Learner) -> Learner:
    import random

    @learner.simulation_task(as_executable=False)
    async def simulate(point: float, point_id: int = 0) -> dict[str, float]:
        return {"x": point, "y": point * point}

    @learner.training_task(as_executable=False)
    async def train(results: list[dict[str, float]]) -> dict[str, int]:
        return {"seen": len(results)}

    @learner.active_learn_task(as_executable=False)
    async def select(model: Any, pending: list[float], count: int) -> list[float]:
        return [random.random() for _ in range(count)]

    return learner


class TestSteadyStateActiveLearnerContract(LearnerContract):
    timing_dependent = True  # what is pending when a selection starts depends on which simulations finished

    def make_learner(self, engine: Any) -> Learner:
        from rose.al import SteadyStateActiveLearner

        return add_steady_tasks(SteadyStateActiveLearner(engine))

    def start(self, learner: Any, *, max_iter: int, config: LearnerConfig | None, resume: Any = None) -> LearnerRun:
        return learner.start(max_iter=max_iter, in_flight=3, retrain_every=1, initial_config=config, resume=resume)
