"""Fixtures for the MLflow plugin tests: a shared sqlite store and small AL campaigns."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

import pytest


@pytest.fixture(scope="session")
def mlflow_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One real sqlite tracking store for the session (creating a store costs 1-3 s)."""
    from mlflow.tracking import MlflowClient

    path = tmp_path_factory.mktemp("mlflow-store") / "mlflow.db"
    uri = "sqlite:///" + os.fspath(path)
    MlflowClient(uri).search_experiments()  # create the tables once
    return uri


@pytest.fixture(autouse=True)
def _no_ambient_mlflow(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tests choose their store explicitly; the developer's MLFLOW_TRACKING_URI must not leak in.

    The campaign waits up to 120 s (not 10) for its trackers: on a loaded machine importing MLflow
    alone can take 10 s, and the tests check the tracker's own bounds (flush_timeout, retry_budget).
    """
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("ROSE_TRACKER_TIMEOUT", "120")
    yield


@pytest.fixture
def experiment(request: pytest.FixtureRequest) -> str:
    """An experiment name unique to the test."""
    return f"rose-test-{request.node.name}"


def make_al_learner(
    engine: Any,
    run_dir: Any,
    metric_values: Sequence[float],
    *,
    fail_at: int | None = None,
    learner_id: Any = None,
    log_params: dict[str, Any] | None = None,
) -> Any:
    """A SequentialActiveLearner of function tasks whose criterion reports ``metric_values``.

    The tasks return numpy scalars and bools as state; the criterion raises at iteration
    ``fail_at`` (a task error).
    """
    import numpy as np

    from rose.al import SequentialActiveLearner

    learner = SequentialActiveLearner(engine, run_dir=os.fspath(run_dir))
    learner.learner_id = learner_id
    calls = {"criterion": 0, "labeled": 4}

    @learner.simulation_task(as_executable=False, log_params=log_params or {"simulator": "toy-oscillator"})
    async def simulate(*args: Any, **kwargs: Any) -> dict[str, Any]:
        calls["labeled"] += 2
        return {"labeled_count": np.int64(calls["labeled"]), "pool_name": "grid"}

    @learner.training_task(as_executable=False)
    async def train(*args: Any, **kwargs: Any) -> dict[str, Any]:
        return {"train_loss": np.float32(1.0 / calls["labeled"]), "converged": calls["labeled"] > 8}

    @learner.active_learn_task(as_executable=False)
    async def select(*args: Any, **kwargs: Any) -> dict[str, Any]:
        return {"max_uncertainty": np.float64(0.5), "pool_exhausted": np.bool_(False)}

    @learner.as_stop_criterion(metric_name="mean_squared_error_mse", threshold=0.01, as_executable=False)
    async def criterion(*args: Any, **kwargs: Any) -> float:
        i = calls["criterion"]
        calls["criterion"] += 1
        if fail_at is not None and i == fail_at:
            raise RuntimeError(f"surrogate diverged at iteration {i}")
        return metric_values[min(i, len(metric_values) - 1)]

    return learner


def history(client: Any, run_id: str, key: str) -> list[tuple[int, float]]:
    """``[(step, value), ...]`` of one metric, by step."""
    return sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))


@pytest.fixture
def al_learner() -> Any:
    """The :func:`make_al_learner` factory."""
    return make_al_learner


@pytest.fixture
def metric_history() -> Any:
    """The :func:`history` helper."""
    return history
