"""Environment task: play CartPole with policies sampled around the current one.

Run by ParallelExperience in the learner's working directory. Each episode samples linear
policy weights from the current CEM Gaussian, widened by ``--exploration`` (each
environment task explores differently), plays one episode and records every transition.
The last transition of an episode carries the sampled weights and the episode's return in
its ``info``; the bank is saved where ROSE merges it (``bank.save()`` writes
``$ROSE_BANK_FILE``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import zlib

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cartpole import MAX_STEPS, N_PARAMS, CartPole, load_policy, run_episode, work_dir

from rose.rl.experience import ExperienceBank, create_experience


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exploration", type=float, default=1.0, help="multiplier of the policy's spread")
    parser.add_argument("--episodes", type=int, default=8)
    parser.add_argument("--max-steps", type=int, default=MAX_STEPS)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    directory = work_dir()
    iteration = int(os.environ.get("ROSE_ITERATION") or 0)
    name = os.environ.get("ROSE_TASK_NAME", "environment")
    policy = load_policy(directory)
    mean, std = np.asarray(policy["mean"]), np.asarray(policy["std"])
    rng = np.random.default_rng([args.seed, iteration, zlib.crc32(name.encode())])
    env = CartPole(random.Random(int(rng.integers(2**32))), max_steps=args.max_steps)

    bank = ExperienceBank()
    returns = []
    for k in range(args.episodes):
        weights = mean + args.exploration * std * rng.standard_normal(N_PARAMS)
        weights /= np.linalg.norm(weights) or 1.0
        transitions, total = run_episode(env, weights.tolist())
        episode = f"{iteration}/{name}/{k}"
        for state, action, reward, next_state, done in transitions:
            info: dict[str, object] = {"episode": episode}
            if done:
                info.update(weights=weights.tolist(), episode_return=total,
                            generation=policy["generation"], exploration=args.exploration)
            bank.add(create_experience(state, action, reward, next_state, done, info))
        returns.append(total)
    path = bank.save()
    print(json.dumps({"environment": name, "episodes": len(returns), "steps": len(bank),
                      "mean_return": sum(returns) / len(returns), "best_return": max(returns),
                      "bank": path, "finite": all(math.isfinite(r) for r in returns)}))


if __name__ == "__main__":
    main()
