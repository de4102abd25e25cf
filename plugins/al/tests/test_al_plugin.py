"""The plugin's registrations: rose.al / rose.uq names, learner specs, metrics."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from rose_plugin_al import plugin

import rose.al
import rose.uq
from rose import LearnerConfig
from rose.metrics import BUILTIN_METRICS, direction_of
from rose.plugins import registry
from rose.testing import check_learner_spec, check_metric_spec


def test_names_importable_from_rose_al_and_rose_uq() -> None:
    from rose.al import AlgorithmSelector, ParallelActiveLearner, SequentialActiveLearner
    from rose.uq import (
        UQ_REGISTRY,
        ParallelUQLearner,
        SeqUQLearner,
        UQLearner,
        UQLearnerConfig,
        UQScorer,
        register_uq,
    )

    assert {"SequentialActiveLearner", "ParallelActiveLearner", "AlgorithmSelector"} <= set(dir(rose.al))
    from rose.al import ActiveLearnerConfig

    # ROSE 0.3's name of the configuration with the uncertainty task: the AL configuration class
    assert UQLearnerConfig is ActiveLearnerConfig and issubclass(UQLearnerConfig, LearnerConfig)
    assert type(LearnerConfig(uncertainty=rose.TaskConfig())) is UQLearnerConfig
    assert issubclass(SeqUQLearner, UQLearner) and issubclass(ParallelUQLearner, UQLearner)
    assert "margin" in UQ_REGISTRY and callable(register_uq) and UQScorer("regression")
    assert all(callable(x) for x in (AlgorithmSelector, ParallelActiveLearner, SequentialActiveLearner))


def test_the_al_kind_provides_the_active_learning_fields_and_decorators() -> None:
    from rose.al import ActiveLearnerConfig, AlgorithmSelector, SequentialActiveLearner
    from rose.config import task_kinds
    from rose.learner import Learner
    from rose.testing import check_learner_kind_spec
    from rose.uq import SeqUQLearner

    (spec,) = plugin.rose_learner_kinds()
    check_learner_kind_spec(spec)
    assert spec.factory() is ActiveLearnerConfig
    assert task_kinds(ActiveLearnerConfig) == ["prediction", "active_learn", "uncertainty", "utility"]
    for learner in (SequentialActiveLearner, AlgorithmSelector, SeqUQLearner):
        assert learner.config_class is ActiveLearnerConfig
    # a ROSE 0.3 custom loop: the AL decorators on a plain Learner, found through the registry
    plain = Learner(name="custom")

    @plain.active_learn_task
    async def select(*args: Any) -> str:
        return "echo picked"

    assert plain.tasks["active_learn"].kind == "active_learn" and select.spec.name == "active_learn"


def test_learner_specs_pass_the_contract() -> None:
    specs = plugin.rose_learners()
    for spec in specs:
        check_learner_spec(spec)
    roles = {spec.name: spec.role for spec in specs}
    assert roles["UQScorer"] == roles["UQ_REGISTRY"] == roles["register_uq"] == roles["UQLearnerConfig"] == "support"
    assert roles["ParallelActiveLearner"] == "learner"


def test_uq_metrics_only_for_names_the_core_lacks() -> None:
    core = {name for name, _, _ in BUILTIN_METRICS}
    specs = plugin.rose_metrics()
    assert specs and not {s.name for s in specs} & core
    for spec in specs:
        check_metric_spec(spec)
    assert registry().metrics["least_confidence"].operator == "<"
    assert direction_of("least_confidence") == "min"
    compute = registry().metrics["least_confidence"].factory()
    assert compute([[[0.8, 0.2]], [[0.6, 0.4]]]) == pytest.approx(0.3)


async def test_sequential_teach_is_deprecated(al_engine: Any) -> None:
    from rose.al import SequentialActiveLearner

    learner = SequentialActiveLearner(al_engine)

    @learner.simulation_task(as_executable=False)
    async def sim(*args: Any, **kwargs: Any) -> int:
        return 1

    @learner.training_task(as_executable=False)
    async def train(*args: Any, **kwargs: Any) -> int:
        return 2

    @learner.active_learn_task(as_executable=False)
    async def select(*args: Any, **kwargs: Any) -> dict[str, int]:
        return {"picked": sum(args)}

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        final = await learner.teach(max_iter=2)
    assert any(issubclass(w.category, DeprecationWarning) for w in caught)
    assert final is not None and final.iteration == 1 and final.picked == 3
