"""Stop criterion task: print the surrogate's hold-out RMSE (metres) on the last line.

The training task evaluates every new surrogate on the hold-out set and writes
``metrics.json`` into the learner's working directory, where this script runs.
"""

from __future__ import annotations

import json
import sys


def main() -> int:
    try:
        with open("metrics.json", encoding="utf-8") as handle:
            metrics = json.load(handle)
    except FileNotFoundError:
        print("check_error.py: no metrics.json here; the training task writes it", file=sys.stderr)
        return 1
    print(f"labeled={metrics['labeled_count']}")
    print(metrics["holdout_rmse"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
