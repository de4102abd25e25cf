"""A sequential active-learning campaign whose tasks misbehave on request (for tests/faults)."""

import argparse
import asyncio
import os
import sys
from pathlib import Path

import rose
from rose.al import SequentialActiveLearner
from rose.metrics import MEAN_SQUARED_ERROR_MSE

HERE = Path(__file__).resolve().parent


async def main(args: argparse.Namespace) -> None:
    async with rose.engine(os.environ.get("ROSE_FAULT_BACKEND", "local")) as engine:
        learner = SequentialActiveLearner(engine, run_dir=args.run_dir)
        learner.add_tracker(rose.tracker("jsonl", path=args.tracking))

        def command(kind: str, kwargs: dict) -> list[str]:
            argv = [sys.executable, str(HERE / "fault_task.py"), kind, "--iteration", str(kwargs["--iteration"]),
                    "--log", args.log, "--marker", args.marker, "--sleep", str(args.sleep)]
            if args.hang_at >= 0:
                argv += ["--hang-at", str(args.hang_at)]
            if args.kill_at >= 0:
                argv += ["--kill-at", str(args.kill_at)]
            if args.flaky:
                argv.append("--flaky")
            return argv

        @learner.simulation_task(timeout=args.timeout)
        async def simulation(*a, **kwargs):
            return command("simulation", kwargs)

        @learner.training_task(retries=1 if args.flaky else 0, retry_backoff=0.05)
        async def training(*a, **kwargs):
            return command("training", kwargs)

        @learner.active_learn_task
        async def active_learn(*a, **kwargs):
            return command("active_learn", kwargs)

        @learner.as_stop_criterion(metric_name=MEAN_SQUARED_ERROR_MSE, threshold=-1.0)
        async def criterion(*a, **kwargs):
            return command("criterion", kwargs)

        every = learner.create_adaptive_schedule("any", lambda i: {"kwargs": {"--iteration": i}})
        config = rose.LearnerConfig(simulation=every, training=every, active_learn=every, criterion=every)
        resume = args.run_dir if args.resume else None
        async for state in learner.start(max_iter=args.max_iter, initial_config=config, resume=resume):
            print(f"iteration {state.iteration} mse {state.metric_value}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--tracking", required=True)
    parser.add_argument("--marker", required=True)
    parser.add_argument("--max-iter", type=int, default=5)
    parser.add_argument("--sleep", type=float, default=0.0)
    parser.add_argument("--timeout", type=float, default=None)
    parser.add_argument("--hang-at", type=int, default=-1)
    parser.add_argument("--kill-at", type=int, default=-1)
    parser.add_argument("--flaky", action="store_true")
    parser.add_argument("--resume", action="store_true")
    asyncio.run(main(parser.parse_args()))
