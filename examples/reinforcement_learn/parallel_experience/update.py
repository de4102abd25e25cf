"""Update task of the documentation's ParallelExperience script.

Reads the merged experience bank, "trains" a toy model whose reward is the total reward of
the experience it has seen, writes ``model.json`` and appends what it saw to
``update_log.jsonl`` (experiences per iteration and environment parameter).
"""

from __future__ import annotations

import collections
import json
import os

from rose.rl.experience import ExperienceBank


def main() -> None:
    work_dir = os.environ.get("ROSE_WORK_DIR") or os.getcwd()
    bank = ExperienceBank.load(os.environ.get("ROSE_MERGED_BANK") or os.path.join(work_dir, "experience_bank.npz"))
    seen = collections.Counter(f"{e.info['iteration']}:{e.info['parameter']:g}" for e in bank)
    model = {"reward": sum(e.reward for e in bank), "experiences": len(bank)}
    with open(os.path.join(work_dir, "model.json"), "w", encoding="utf-8") as handle:
        json.dump(model, handle)
    with open(os.path.join(work_dir, "update_log.jsonl"), "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"iteration": int(os.environ.get("ROSE_ITERATION") or 0),
                                 "experiences": len(bank), "seen": dict(seen)}) + "\n")
    print(json.dumps(model))


if __name__ == "__main__":
    main()
