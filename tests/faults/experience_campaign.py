"""A ParallelExperience campaign with slow environments, to be killed and resumed (for tests/faults)."""

import argparse
import asyncio
import time

from rose_plugin_rl.experience import ExperienceBank, create_experience

import rose
from rose.rl import ParallelExperience

PER_ENVIRONMENT = 5


async def main(args: argparse.Namespace) -> None:
    async with rose.engine("local") as engine:
        pe = ParallelExperience(engine, run_dir=args.run_dir)
        for number in (1, 2, 3):
            name = f"env_{number}"

            @pe.environment_task(name=name, as_executable=False)
            async def environment(*previous: object, _name: str = name, _delay: float = 0.1 * number) -> dict:
                time.sleep(_delay)
                bank = ExperienceBank()
                for step in range(PER_ENVIRONMENT):
                    bank.add(create_experience([float(step)], step, 1.0, [float(step + 1)], False, {"env": _name}))
                bank.save(pe.work_dir, f"experience_bank_{_name}.npz")
                return {"steps": PER_ENVIRONMENT}

        @pe.update_task(as_executable=False)
        async def update(bank_path: str) -> dict:
            time.sleep(0.15)
            return {"bank_size": len(ExperienceBank.load(bank_path))}

        async for state in pe.start(max_iter=args.max_iter, resume=args.run_dir if args.resume else None):
            print(f"iteration {state.iteration} bank {state.bank_size}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--max-iter", type=int, default=4)
    parser.add_argument("--resume", action="store_true")
    asyncio.run(main(parser.parse_args()))
