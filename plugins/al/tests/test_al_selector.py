"""AlgorithmSelector: concurrent pipelines, selection by the metric's own direction."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers_al import read_calls, read_cwds

from rose import LearnerConfig, TaskConfig
from rose.al import AlgorithmSelector
from rose.metrics import MEAN_SQUARED_ERROR_MSE, MODEL_ACCURACY


def executable_selector(
    engine: Any, scripts: Path, algorithms: dict[str, str], metric: str, threshold: float
) -> AlgorithmSelector:
    sel = AlgorithmSelector(engine)
    code = f"{sys.executable} {scripts}"

    @sel.simulation_task
    async def simulation(*args: Any, **kwargs: Any) -> str:
        return f"{code}/sim.py"

    @sel.training_task
    async def training(*args: Any, **kwargs: Any) -> str:
        return f"{code}/train.py"

    for name, options in algorithms.items():

        async def algorithm(*args: Any, _options: str = options, **kwargs: Any) -> str:
            return f"{code}/algo.py {_options}"

        sel.active_learn_task(name=name)(algorithm)

    @sel.as_stop_criterion(metric_name=metric, threshold=threshold)
    async def check(*args: Any, **kwargs: Any) -> str:
        return f"{code}/check_acc.py" + "".join(f" {k} {v}" for k, v in kwargs.items())

    return sel


async def test_accuracy_selects_the_highest(al_engine: Any, scripts: Path) -> None:
    sel = executable_selector(
        al_engine, scripts,
        {"steady": "--start 0.5 --gain 0.1", "strong": "--start 0.7 --gain 0.1"},
        MODEL_ACCURACY, 0.99,
    )
    result = await sel.start(max_iter=3)
    assert result["best_algorithm"] == "strong"  # ROSE 0.3 picked the lower accuracy
    assert result["algorithm_results"]["steady"]["last_result"] == pytest.approx(0.7)
    assert result["best_stats"]["last_result"] == pytest.approx(0.9)
    assert result["best_stats"]["metric_history"] == pytest.approx([0.7, 0.8, 0.9])
    assert sel.get_best_algorithm()[0] == "strong"
    # each algorithm ran its own pipeline in its own directory
    for name in ("steady", "strong"):
        directory = Path(sel.run_dir) / f"algorithm-{name}"
        tasks = [task for task, _ in read_calls(directory)]
        assert tasks == ["sim", "train"] + ["algo", "check_acc", "sim", "train"] * 2 + ["algo", "check_acc"]
        assert read_cwds(directory) == {str(directory)}


async def test_error_metric_selects_the_lowest_and_streams_by_name(al_engine: Any, scripts: Path) -> None:
    sel = executable_selector(
        al_engine, scripts,
        {"steady": "--start 0.5 --gain 0.1", "strong": "--start 0.7 --gain 0.1"},
        MEAN_SQUARED_ERROR_MSE, 0.0001,
    )
    as_error = LearnerConfig(criterion=TaskConfig(kwargs={"--as-error": "1"}))
    states = [s async for s in sel.start(max_iter=2, algorithm_configs={"steady": as_error, "strong": as_error})]
    assert sorted((s.learner_id, s.iteration) for s in states) == [("steady", 0), ("steady", 1), ("strong", 0), ("strong", 1)]
    name, stats = sel.get_best_algorithm()
    assert name == "strong" and stats is not None and stats["last_result"] == pytest.approx(0.2)


async def test_tie_goes_to_fewer_iterations(al_engine: Any, scripts: Path) -> None:
    sel = executable_selector(
        al_engine, scripts,
        {"late": "--start 0.65 --gain 0.1", "early": "--start 0.85"},
        MODEL_ACCURACY, 0.8,
    )
    result = await sel.start(max_iter=5)
    assert result["algorithm_results"]["late"]["iterations"] == 3
    assert result["algorithm_results"]["early"]["iterations"] == 1
    assert result["algorithm_results"]["early"]["stop_reason"] == "criterion_met"
    assert result["best_algorithm"] == "early"


async def test_function_algorithms_and_a_failing_one(al_engine: Any, caplog: pytest.LogCaptureFixture) -> None:
    sel = AlgorithmSelector(al_engine)
    seen: dict[str, list[tuple[Any, ...]]] = {"uncertainty": [], "random": []}
    counts: dict[str, int] = {}

    @sel.simulation_task(as_executable=False)
    async def simulation(*args: Any, **kwargs: Any) -> dict[str, int]:
        return {"labeled": 10}

    @sel.training_task(as_executable=False)
    async def training(*args: Any, **kwargs: Any) -> str:
        return "model"

    @sel.active_learn_task(name="uncertainty", as_executable=False)
    async def uncertainty(*args: Any, **kwargs: Any) -> dict[str, str]:
        seen["uncertainty"].append(args)
        return {"picked": "uncertain"}

    @sel.active_learn_task(name="random", as_executable=False)
    async def random_pick(*args: Any, **kwargs: Any) -> dict[str, str]:
        seen["random"].append(args)
        return {"picked": "random"}

    @sel.active_learn_task(name="broken", as_executable=False)
    async def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("no candidates left")

    @sel.as_stop_criterion(metric_name=MEAN_SQUARED_ERROR_MSE, threshold=0.0, as_executable=False)
    async def mse(*args: Any, **kwargs: Any) -> float:
        key = kwargs["algorithm"]
        counts[key] = counts.get(key, 0) + 1
        return float(kwargs["values"][counts[key] - 1])

    configs = {
        name: LearnerConfig(criterion=TaskConfig(kwargs={"algorithm": name, "values": values}))
        for name, values in (("uncertainty", [0.4, 0.2]), ("random", [0.4, 0.3]), ("broken", [0.0, 0.0]))
    }
    with caplog.at_level(logging.ERROR):
        result = await sel.start(max_iter=2, algorithm_configs=configs)
    assert result["best_algorithm"] == "uncertainty"
    assert "no candidates left" in result["algorithm_results"]["broken"]["error"]
    assert result["algorithm_results"]["broken"]["stop_reason"] == "error"
    assert "[algorithm-broken] failed with error" in caplog.text
    assert seen["uncertainty"] == [({"labeled": 10}, "model")] * 2  # (simulation, training) results


def test_selector_validation() -> None:
    sel = AlgorithmSelector(object())

    @sel.training_task
    async def training(*args: Any, **kwargs: Any) -> str:
        return "true"

    @sel.simulation_task
    async def simulation(*args: Any, **kwargs: Any) -> str:
        return "true"

    with pytest.raises(ValueError, match="at least one algorithm"):
        sel.start(max_iter=1)

    @sel.active_learn_task(name="algo_1")
    async def algo(*args: Any, **kwargs: Any) -> str:
        return "true"

    with pytest.raises(ValueError, match=r"unknown algorithm\(s\) \['algo_2'\]; the algorithms are \['algo_1'\]"):
        sel.start(max_iter=1, algorithm_configs={"algo_2": LearnerConfig()})
    with pytest.raises(ValueError, match="max_iter > 0 or a stop criterion"):
        sel.start()
