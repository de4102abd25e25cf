"""A small sequential AL campaign for the tests of what a campaign writes (issue 27, items 7-10).

    python io_campaign.py [--iterations N] [--value-mb MB] [--fail-lines N] [--resume RUN_DIR]

The training task reports ``{"blob": <MB of text, different each iteration>, "labeled_count": n}``;
with ``--fail-lines N`` the selection task of iteration 1 prints N lines to stderr and exits 3.
Prints the campaign directory on its last stdout line.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

import rose
from rose.al import SequentialActiveLearner


async def main(options: argparse.Namespace) -> None:
    size = int(options.value_mb * 1024 * 1024)
    async with rose.engine("local", max_workers=2) as engine:
        learner = SequentialActiveLearner(engine, name="io")

        @learner.simulation_task(as_executable=False)
        async def simulate(*upstream: object) -> None:
            return None

        @learner.training_task(as_executable=False)
        async def train(*upstream: object, counter: list[int] = [0]) -> dict[str, object]:  # noqa: B006
            counter[0] += 1
            mark = f"{counter[0]:x}"
            return {"blob": mark * (size // len(mark)), "labeled_count": counter[0]}

        @learner.active_learn_task
        async def select(*upstream: object, calls: list[int] = [0]) -> list[str]:  # noqa: B006
            calls[0] += 1
            if options.fail_lines and calls[0] == 2:
                code = (f"import sys\nfor n in range({options.fail_lines}): print('line', n, 'of the noise', "
                        f"file=sys.stderr)\nprint('LAST LINE OF STDERR', file=sys.stderr)\nsys.exit(3)")
                return [sys.executable, "-c", code]
            return [sys.executable, "-c", "print('picked')"]

        resume = options.resume or None
        state = None
        try:
            async for state in learner.start(max_iter=options.iterations, resume=resume):
                print("iteration", state.iteration, "blob", len(state.state["blob"]), flush=True)
        finally:
            print(learner.run_dir, flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--value-mb", type=float, default=0.25)
    parser.add_argument("--fail-lines", type=int, default=0)
    parser.add_argument("--resume", default="")
    asyncio.run(main(parser.parse_args()))
