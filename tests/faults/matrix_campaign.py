"""A campaign of slow command-line tasks for the kill -9 matrix: sequential AL, parallel AL or RL."""

import argparse
import asyncio
import sys
from pathlib import Path

import rose
from rose.metrics import MEAN_SQUARED_ERROR_MSE

HERE = Path(__file__).resolve().parent


async def main(args: argparse.Namespace) -> None:
    async with rose.engine("local") as engine:
        def command(kind: str, iteration: int) -> list[str]:
            return [sys.executable, str(HERE / "fault_task.py"), kind, "--iteration", str(iteration),
                    "--log", args.log, "--marker", args.marker, "--sleep", str(args.sleep)]

        if args.learner == "rl":
            from rose.rl import SequentialReinforcementLearner

            learner = SequentialReinforcementLearner(engine, run_dir=args.run_dir)
            kinds = ("environment", "update")
        else:
            from rose.al import ParallelActiveLearner, SequentialActiveLearner

            cls = ParallelActiveLearner if args.learner == "parallel" else SequentialActiveLearner
            learner = cls(engine, run_dir=args.run_dir)
            kinds = ("simulation", "training", "active_learn")
        for kind in kinds:
            def task(*a, _kind=kind, **kwargs):
                async def body(*upstream, **kw):
                    return command(_kind, kw["--iteration"])
                return body
            getattr(learner, f"{kind}_task")(task())

        @learner.as_stop_criterion(metric_name=MEAN_SQUARED_ERROR_MSE, threshold=-1.0)
        async def criterion(*a, **kwargs):
            return command("criterion", kwargs["--iteration"])

        every = learner.create_adaptive_schedule("any", lambda i: {"kwargs": {"--iteration": i}})
        config = rose.LearnerConfig(**{kind: every for kind in (*kinds, "criterion")})
        resume = args.run_dir if args.resume else None
        if args.learner == "parallel":
            run = learner.start(parallel_learners=2, max_iter=args.max_iter, learner_configs=[config, config],
                                resume=resume)
        else:
            run = learner.start(max_iter=args.max_iter, initial_config=config, resume=resume)
        async for state in run:
            print(f"{state.learner_id} iteration {state.iteration}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--learner", choices=("sequential", "parallel", "rl"), required=True)
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--marker", required=True)
    parser.add_argument("--max-iter", type=int, default=4)
    parser.add_argument("--sleep", type=float, default=0.4)
    parser.add_argument("--resume", action="store_true")
    asyncio.run(main(parser.parse_args()))
