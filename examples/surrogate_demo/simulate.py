"""Simulation task: label a batch of points with the projectile model (one process per batch).

    python simulate.py --sample 10 --seed 0 --out batch-000.npz     # a random design
    python simulate.py --points batch-003.npy --out batch-003.npz   # points chosen by selection

Writes ``inputs`` and ``range`` arrays to ``--out`` and prints one JSON line, e.g.
``{"labels": "/abs/path/batch-003.npz", "count": 8, "seconds": 0.04}``. The workflow reads
that line; everything else it needs is in the files.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--sample", type=int, metavar="N", help="label N points drawn uniformly from the box")
    source.add_argument("--points", metavar="FILE.npy", help="label the points stored in this file")
    parser.add_argument("--seed", type=int, default=0, help="random seed for --sample")
    parser.add_argument("--out", required=True, metavar="FILE.npz", help="where to write inputs and outputs")
    args = parser.parse_args(argv)

    if args.sample is not None:
        points = model.sample(args.sample, np.random.default_rng(args.seed))
    else:
        points = np.load(args.points)
    started = time.perf_counter()
    ranges = model.simulate(points)
    out = os.path.abspath(args.out)
    np.savez(out, inputs=points, range=ranges)
    print(json.dumps({"labels": out, "count": int(len(ranges)), "seconds": round(time.perf_counter() - started, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
