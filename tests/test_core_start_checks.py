"""What ``start()`` refuses, it refuses before anything is written or run.

* ``LearnerConfig(tasks={...})`` naming no registered task (it used to be dropped silently);
* a task asking for resources the backend cannot give (it used to leave an empty campaign
  directory behind).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import rose
from rose import LearnerConfig, TaskConfig
from rose.errors import ResourceError, RoseError


def campaigns(root: Path) -> list[str]:
    """The campaign directories under ``root`` (the engines' own folder aside)."""
    return sorted(p.name for p in root.iterdir() if not p.name.startswith(".")) if root.exists() else []


def active_learner(engine: Any, *, parallel: bool = False, **options: Any) -> Any:
    from rose.al import ParallelActiveLearner, SequentialActiveLearner

    learner = (ParallelActiveLearner if parallel else SequentialActiveLearner)(engine)

    @learner.simulation_task(as_executable=False, **options)
    async def simulation(*args: Any, **kwargs: Any) -> int:
        return 1

    @learner.training_task(as_executable=False)
    async def training(*args: Any, **kwargs: Any) -> int:
        return 1

    @learner.active_learn_task(as_executable=False)
    async def active_learn(*args: Any, **kwargs: Any) -> int:
        return 1

    return learner


@pytest.fixture
def runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ROSE_RUNS_DIR", str(tmp_path / "runs"))
    return tmp_path / "runs"


async def test_a_config_for_an_unknown_task_is_an_error_naming_it_and_the_closest_task(runs: Path) -> None:
    async with rose.engine("local") as engine:
        learner = active_learner(engine)
        with pytest.raises(RoseError) as caught:
            await learner.start(max_iter=1, initial_config=LearnerConfig(tasks={"simulaton": TaskConfig(args=(1,))}))
    message = str(caught.value)
    assert "initial_config" in message and "'simulaton'" in message and "did you mean 'simulation'" in message
    assert "active_learn, simulation, training" in message
    assert campaigns(runs) == []


async def test_each_parallel_learners_config_is_checked_before_anything_is_written(runs: Path) -> None:
    async with rose.engine("local") as engine:
        learner = active_learner(engine, parallel=True)
        configs = [None, LearnerConfig(tasks={"trainer": TaskConfig()})]
        with pytest.raises(RoseError, match=r"'trainer'.*did you mean 'training'"):
            await learner.start(parallel_learners=2, max_iter=1, learner_configs=configs)
    assert campaigns(runs) == []


async def test_parallel_experience_names_the_environments_it_has(runs: Path) -> None:
    from rose.rl import ParallelExperience

    async with rose.engine("local") as engine:
        pe = ParallelExperience(engine)
        for name in ("env_1", "env_2"):
            @pe.environment_task(name=name, as_executable=False)
            async def environment(*args: Any, **kwargs: Any) -> dict[str, int]:
                return {"steps": 0}

        @pe.update_task(as_executable=False)
        async def update(*args: Any, **kwargs: Any) -> int:
            return 0

        with pytest.raises(RoseError) as caught:
            await pe.start(max_iter=1, initial_config=LearnerConfig(tasks={"env_one": TaskConfig()}))
        message = str(caught.value)
        assert "'env_one'" in message and "did you mean 'env_1'" in message
        assert "env_1 (environment), env_2 (environment), update" in message
    assert campaigns(runs) == []


async def test_a_start_refused_for_its_resources_leaves_no_campaign_directory(runs: Path) -> None:
    async with rose.engine("local") as engine:
        learner = active_learner(engine, resources={"cores": 100_000})
        with pytest.raises(ResourceError, match="cores=100000"):
            await learner.start(max_iter=1)
    assert campaigns(runs) == []
