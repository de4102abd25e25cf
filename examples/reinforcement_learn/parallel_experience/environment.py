"""Environment task of the documentation's ParallelExperience script: ``environment.py parameter=K``.

A toy environment: it records ``--steps`` (default 6) transitions whose reward is its
parameter K, tagged in ``info`` with the parameter and the iteration, and saves them where
ParallelExperience merges them (``bank.save()`` writes ``$ROSE_BANK_FILE``).
"""

from __future__ import annotations

import argparse
import os

from rose.rl.experience import ExperienceBank, create_experience


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assignments", nargs="*", help="parameter=K")
    parser.add_argument("--steps", type=int, default=6)
    args = parser.parse_args(argv)
    options = dict(item.split("=", 1) for item in args.assignments)
    parameter = float(options.get("parameter", 1))
    iteration = int(os.environ.get("ROSE_ITERATION") or 0)
    bank = ExperienceBank()
    for step in range(args.steps):
        state = [parameter, float(step)]
        bank.add(create_experience(state, step % 2, parameter, [parameter, step + 1.0], step == args.steps - 1,
                                   {"parameter": parameter, "iteration": iteration}))
    print(bank.save())


if __name__ == "__main__":
    main()
