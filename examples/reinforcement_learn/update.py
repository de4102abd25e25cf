"""Update task: refit the policy distribution to the best episodes of the merged experience.

Reads the merged experience bank ParallelExperience wrote (``$ROSE_MERGED_BANK``), which
holds this iteration's episodes from every environment task and earlier iterations' up to
the learner's cap. Episodes are ranked by return (newer first on ties); the Gaussian over
the policy weights is refit to the best ``--elite-frac`` of the newest generation's
episode count (cross-entropy method), with a little extra spread that shrinks over time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cartpole import load_policy, save_policy, work_dir

from rose.rl.experience import ExperienceBank


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--elite-frac", type=float, default=0.3)
    parser.add_argument("--extra-std", type=float, default=0.3, help="added spread, divided by the generation")
    parser.add_argument("--min-std", type=float, default=0.02)
    args = parser.parse_args(argv)

    directory = work_dir()
    bank = ExperienceBank.load(os.environ.get("ROSE_MERGED_BANK") or os.path.join(directory, "experience_bank.npz"))
    episodes = [
        (e.info["episode_return"], e.info["generation"], e.info["weights"])
        for e in bank
        if e.done and "weights" in e.info
    ]
    if not episodes:
        sys.exit(f"update: the merged bank ({len(bank)} experiences) holds no finished episode")
    newest = max(generation for _, generation, _ in episodes)
    current = sum(1 for _, generation, _ in episodes if generation == newest)
    ranked = sorted(episodes, key=lambda e: (e[0], e[1]), reverse=True)
    n_elite = max(2, round(args.elite_frac * current))
    elite = np.asarray([weights for _, _, weights in ranked[:n_elite]])
    policy = load_policy(directory)
    generation = int(policy["generation"]) + 1  # type: ignore[call-overload]
    mean = elite.mean(axis=0)
    std = elite.std(axis=0) + max(args.min_std, args.extra_std / generation)
    save_policy(directory, {"mean": mean.tolist(), "std": std.tolist(), "generation": generation})
    print(json.dumps({"generation": generation, "experiences": len(bank), "episodes": len(episodes),
                      "elite": n_elite, "elite_mean_return": float(np.mean([r for r, _, _ in ranked[:n_elite]]))}))


if __name__ == "__main__":
    main()
