"""Stop criterion of the documentation's ParallelExperience script: prints the model's reward."""

from __future__ import annotations

import json
import os


def main() -> None:
    work_dir = os.environ.get("ROSE_WORK_DIR") or os.getcwd()
    with open(os.path.join(work_dir, "model.json"), encoding="utf-8") as handle:
        print(json.load(handle)["reward"])


if __name__ == "__main__":
    main()
