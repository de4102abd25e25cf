"""ROSE orchestrates, ClearML records: two active learners compared in one ClearML task.

Two learners fit a polynomial surrogate to a made-up 1-D response; one picks new points where
its two fits disagree most, the other picks them at random. The ``clearml`` tracker records
the campaign's parameters and, at every iteration, each learner's test error as a series of
the same ClearML plot, so the two strategies compare at a glance.

    python examples/integrations/clearml/clearml_rose.py            # offline: no server needed
    python examples/integrations/clearml/clearml_rose.py --online   # to the server `clearml-init` set up

Offline, ClearML keeps the session in a folder (printed at the end) that
``clearml.Task.import_offline_session`` uploads to a server later.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import numpy as np

import rose
from rose import LearnerConfig, TaskConfig
from rose.al import ParallelActiveLearner
from rose.metrics import MEAN_SQUARED_ERROR_MSE

DOMAIN = (0.0, 3.0)
TEST_X = np.linspace(*DOMAIN, 101)
STRATEGIES = ("disagreement", "random")


def response(x: np.ndarray) -> np.ndarray:
    """The "simulation": a smooth made-up response."""
    return np.sin(2.0 * x) + 0.3 * x


def build_learner(engine: Any) -> ParallelActiveLearner:
    """Four function tasks; each learner keeps its labelled points in memory, keyed by its strategy."""
    learner = ParallelActiveLearner(engine)
    data: dict[str, dict[str, Any]] = {s: {"x": np.array([0.2, 1.5, 2.8])} for s in STRATEGIES}

    @learner.simulation_task(as_executable=False, log_params={"response": "sin(2x) + 0.3x on [0, 3]"})
    async def simulation(*upstream: Any, strategy: str, **kwargs: Any) -> dict[str, Any]:
        points = data[strategy]
        points["y"] = response(points["x"])
        return {"labelled_count": len(points["x"])}

    @learner.training_task(as_executable=False)
    async def training(*upstream: Any, strategy: str, **kwargs: Any) -> dict[str, Any]:
        points = data[strategy]
        degree = min(len(points["x"]) - 1, 6)
        points["fits"] = [np.polyfit(points["x"], points["y"], d) for d in (degree, max(degree - 1, 1))]
        return {"learner_label": strategy, "degree": degree}

    @learner.active_learn_task(as_executable=False)
    async def active_learn(*upstream: Any, strategy: str, seed: int = 0, **kwargs: Any) -> None:
        points = data[strategy]
        if strategy == "random":
            rng = np.random.default_rng(seed + len(points["x"]))
            new = rng.uniform(*DOMAIN)
        else:
            a, b = (np.polyval(fit, TEST_X) for fit in points["fits"])
            new = TEST_X[int(np.argmax(np.abs(a - b)))]
        points["x"] = np.append(points["x"], new)

    @learner.as_stop_criterion(metric_name=MEAN_SQUARED_ERROR_MSE, threshold=1e-4, as_executable=False)
    async def check_mse(*upstream: Any, strategy: str, **kwargs: Any) -> float:
        fit = data[strategy]["fits"][0]
        return float(np.mean((np.polyval(fit, TEST_X) - response(TEST_X)) ** 2))

    return learner


async def run(engine: Any, *, max_iter: int = 8, offline: bool = True, project: str = "ROSE examples") -> Any:
    """Run the campaign with the ClearML tracker; returns the tracker (``task_id``, ``offline_folder``)."""
    learner = build_learner(engine)
    tracker = rose.tracker("clearml", project_name=project, task_name="disagreement vs random",
                           learner_names=list(STRATEGIES), offline=offline)
    learner.add_tracker(tracker)
    configs = [LearnerConfig(**{task: TaskConfig(kwargs={"strategy": s}) for task in
                                ("simulation", "training", "active_learn", "criterion")}) for s in STRATEGIES]
    await learner.start(parallel_learners=len(STRATEGIES), max_iter=max_iter, learner_configs=configs)
    return tracker


async def main(argv: list[str] | None = None) -> int:
    """Run the example with the local backend."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-iter", type=int, default=8, help="iterations per learner (default 8)")
    parser.add_argument("--online", action="store_true", help="send to the ClearML server instead of an offline session")
    args = parser.parse_args(argv)
    async with rose.engine("local") as engine:
        tracker = await run(engine, max_iter=args.max_iter, offline=not args.online)
    if tracker.offline_folder:
        print(f"Done. Offline session: {tracker.offline_folder}.zip "
              "(upload it with clearml.Task.import_offline_session)")
    else:
        print(f"Done. ClearML task {tracker.task_id}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
