"""A campaign of command-line tasks of any learner kind, for the kill -9 matrix and the resume guard.

``--hold KIND --gate PATH``: the ``KIND`` task of iteration 1 waits until the file ``PATH``
exists, so a test can act (resume the campaign from a second process) while it surely runs.
"""

import argparse
import asyncio
import sys
from pathlib import Path

import rose
from rose.metrics import MEAN_SQUARED_ERROR_MSE

HERE = Path(__file__).resolve().parent
KINDS = ("sequential", "parallel", "steady", "rl", "parallel-rl", "experience", "uq")


def build(kind: str, engine: object, run_dir: str) -> tuple[object, tuple[str, ...]]:
    """The learner of ``kind`` and the task kinds it runs as commands."""
    if kind in ("rl", "parallel-rl", "experience"):
        from rose.rl import ParallelExperience, ParallelReinforcementLearner, SequentialReinforcementLearner

        if kind == "experience":
            return ParallelExperience(engine, run_dir=run_dir), ("update",)
        cls = ParallelReinforcementLearner if kind == "parallel-rl" else SequentialReinforcementLearner
        return cls(engine, run_dir=run_dir), ("environment", "update")
    from rose.al import ParallelActiveLearner, SequentialActiveLearner, SteadyStateActiveLearner
    from rose.uq import SeqUQLearner

    if kind == "uq":
        return SeqUQLearner(engine, run_dir=run_dir), ("simulation", "training", "prediction", "active_learn")
    if kind == "steady":
        return SteadyStateActiveLearner(engine, run_dir=run_dir), ("simulation", "training")
    cls = ParallelActiveLearner if kind == "parallel" else SequentialActiveLearner
    return cls(engine, run_dir=run_dir), ("simulation", "training", "active_learn")


def add_function_tasks(kind: str, learner: object) -> None:
    """The tasks that are functions: steady-state selection, ParallelExperience's environment."""
    if kind == "steady":
        @learner.active_learn_task(as_executable=False)
        async def choose(model, *a, pending=(), count=1, **kw):
            return [[kw["--iteration"], n] for n in range(count)]
    if kind == "experience":
        from rose_plugin_rl.experience import ExperienceBank, create_experience

        @learner.environment_task(name="env_1", as_executable=False)
        async def env_1(*previous, **kw):
            bank = ExperienceBank()
            bank.add(create_experience([0.0], 0, 1.0, [1.0], False, {"env": "env_1"}))
            bank.save(learner.work_dir, "experience_bank_env_1.npz")
            return {"steps": 1}


async def main(args: argparse.Namespace) -> None:
    async with rose.engine("local") as engine:
        learner, kinds = build(args.learner, engine, args.run_dir)

        def command(kind: str, iteration: int) -> list[str]:
            argv = [sys.executable, str(HERE / "fault_task.py"), kind, "--iteration", str(iteration),
                    "--log", args.log, "--marker", args.marker, "--sleep", str(args.sleep)]
            if kind == args.hold and iteration == 1:
                argv += ["--wait-for", args.gate]
            return argv

        for kind in kinds:
            def task(*a, _kind=kind, **kwargs):
                async def body(*upstream, **kw):
                    return command(_kind, kw["--iteration"])
                return body
            getattr(learner, f"{kind}_task")(task())
        add_function_tasks(args.learner, learner)

        @learner.as_stop_criterion(metric_name=MEAN_SQUARED_ERROR_MSE, threshold=-1.0)
        async def criterion(*a, **kwargs):
            return command("criterion", kwargs["--iteration"])

        every = learner.create_adaptive_schedule("any", lambda i: {"kwargs": {"--iteration": i}})
        config = rose.LearnerConfig(**{kind: every for kind in {spec.kind for spec in learner.tasks.values()}})
        resume = args.run_dir if args.resume else None
        if args.learner in ("parallel", "parallel-rl"):
            run = learner.start(parallel_learners=2, max_iter=args.max_iter, learner_configs=[config, config],
                                resume=resume)
        elif args.learner == "uq":
            run = learner.start(["m1"], 1, max_iter=args.max_iter, learning_config=config, resume=resume)
        elif args.learner == "steady":
            run = learner.start(max_iter=args.max_iter, in_flight=2, initial_config=config, resume=resume)
        else:
            run = learner.start(max_iter=args.max_iter, initial_config=config, resume=resume)
        async for state in run:
            print(f"{state.learner_id} iteration {state.iteration}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--learner", choices=KINDS, required=True)
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--marker", required=True)
    parser.add_argument("--max-iter", type=int, default=4)
    parser.add_argument("--sleep", type=float, default=0.4)
    parser.add_argument("--hold", default="", help="the task kind whose iteration-1 task waits for --gate")
    parser.add_argument("--gate", default="")
    parser.add_argument("--resume", action="store_true")
    asyncio.run(main(parser.parse_args()))
