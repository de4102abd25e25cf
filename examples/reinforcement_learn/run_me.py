"""Learn to balance a pole: ParallelExperience on a self-contained CartPole.

    python examples/reinforcement_learn/run_me.py            # a few minutes on 2 cores

Every iteration, one environment task per exploration setting plays CartPole episodes
with policies sampled around the current one (wider for larger settings) and saves its
transitions in an experience bank. ROSE merges the banks (keeping earlier iterations'
experience up to a cap), one update task refits the policy to the best episodes of the
merged experience (cross-entropy method), and the test task reports the policy's mean
return, which stops the campaign once it passes the threshold (475 of 500 by default).

Each environment is configured on its own through ``LearnerConfig(tasks={name: ...})``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from typing import Any

import rose
from rose import LearnerConfig, TaskConfig
from rose.metrics import GREATER_THAN_THRESHOLD
from rose.rl.reinforcement_learner import ParallelExperience

HERE = os.path.dirname(os.path.abspath(__file__))


def command(script: str, kwargs: dict[str, Any]) -> list[str]:
    """``python <script> --key value ...`` from a task's configured keyword arguments."""
    argv = [sys.executable, os.path.join(HERE, script)]
    for key, value in kwargs.items():
        argv += [f"--{key.lstrip('-').replace('_', '-')}", str(value)]
    return argv


def build(
    engine: Any,
    explorations: Sequence[float] = (0.5, 1.0, 1.5, 2.0),
    episodes: int = 8,
    max_steps: int = 500,
    test_episodes: int = 20,
    threshold: float = 475.0,
    seed: int = 0,
    merged_bank_max_size: int = 50_000,
) -> tuple[ParallelExperience, LearnerConfig]:
    """The learner with its tasks, and the configuration giving each environment its setting."""
    pe = ParallelExperience(engine, merged_bank_max_size=merged_bank_max_size)

    async def environment(*args: Any, **kwargs: Any) -> list[str]:
        return command("environment.py", kwargs)

    names = [f"explore_{e:g}" for e in explorations]
    for name in names:
        pe.environment_task(name=name, log_params={"script": "environment.py"})(environment)

    @pe.update_task
    async def update(*args: Any, **kwargs: Any) -> list[str]:
        return command("update.py", kwargs)

    @pe.as_stop_criterion(metric_name="MODEL_REWARD", threshold=threshold, operator=GREATER_THAN_THRESHOLD)
    async def test_policy(*args: Any, **kwargs: Any) -> list[str]:
        return command("check_reward.py", kwargs)

    config = LearnerConfig(
        tasks={
            name: TaskConfig(kwargs={"exploration": e, "episodes": episodes, "max_steps": max_steps, "seed": seed})
            for name, e in zip(names, explorations)
        },
        update=TaskConfig(kwargs={"elite_frac": 0.3}),
        criterion=TaskConfig(kwargs={"episodes": test_episodes, "max_steps": max_steps}),
    )
    return pe, config


async def run(engine: Any = None, max_iter: int = 30, verbose: bool = True, **options: Any) -> Any:
    """Train until the test reward passes the threshold (or ``max_iter``); returns the final state."""
    own_engine = engine is None
    if own_engine:
        engine = await rose.engine("local")
    try:
        pe, config = build(engine, **options)
        final = None
        async for state in pe.start(max_iter=max_iter, initial_config=config):
            final = state
            if verbose:
                by_env = ", ".join(f"{k}={v}" for k, v in state.experience_by_environment.items())
                print(f"iteration {state.iteration:2d}: test reward {state.metric_value:6.1f}  "
                      f"(new experience: {by_env}; merged bank: {state.experience_total})")
        if verbose and final is not None:
            verdict = "solved" if final.should_stop else "not solved"
            print(f"{verdict} after {final.iteration + 1} iteration(s); run directory: {pe.run_dir}")
        return final
    finally:
        if own_engine:
            await engine.shutdown()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="ParallelExperience on CartPole")
    parser.add_argument("--threshold", type=float, default=475.0, help="stop when the mean test return passes it")
    parser.add_argument("--max-iter", type=int, default=30)
    parser.add_argument("--explorations", default="0.5,1,1.5,2", help="one environment task per value")
    parser.add_argument("--episodes", type=int, default=8, help="episodes per environment task and iteration")
    parser.add_argument("--max-steps", type=int, default=500)
    parser.add_argument("--test-episodes", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    final = asyncio.run(run(
        max_iter=args.max_iter,
        threshold=args.threshold,
        explorations=[float(v) for v in args.explorations.split(",")],
        episodes=args.episodes,
        max_steps=args.max_steps,
        test_episodes=args.test_episodes,
        seed=args.seed,
    ))
    sys.exit(0 if final is not None and final.should_stop else 1)


if __name__ == "__main__":
    main()
