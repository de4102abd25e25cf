"""Test task (stop criterion): mean return of the current policy over test episodes.

Plays ``--episodes`` CartPole episodes with the mean policy weights (no exploration) and
prints the mean return on the last line, which ROSE compares with the threshold.
"""

from __future__ import annotations

import argparse
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cartpole import MAX_STEPS, CartPole, load_policy, run_episode, work_dir


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--max-steps", type=int, default=MAX_STEPS)
    parser.add_argument("--seed", type=int, default=12345)
    args = parser.parse_args(argv)
    policy = load_policy(work_dir())
    env = CartPole(random.Random(args.seed + int(policy["generation"])), max_steps=args.max_steps)  # type: ignore[call-overload]
    returns = [run_episode(env, policy["mean"])[1] for _ in range(args.episodes)]  # type: ignore[arg-type]
    print(sum(returns) / len(returns))


if __name__ == "__main__":
    main()
