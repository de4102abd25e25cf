"""What a rebuilt Optuna study costs per selection, against a live study, at 10, 100 and 1,000 labels.

The optuna policy rebuilds its study from the request at every selection (so a resumed
campaign selects what an uninterrupted one would); a live study (``study=``, the policy's
behaviour before 0.5) only asks. Each selects ``k`` points from a 2-d pool with a seeded TPE
sampler after ``n`` labels, having selected once before (``rebuilt``: as in a campaign) or not
(``rebuilt_after_restart``: the first selection after a resume). The figure is the CPU time
(``time.process_time``) of one ``select``, the median of ``--rounds`` rounds that alternate
the order of the three, and the ratios to the live study. Prints one JSON object with
the load (``os.getloadavg``) before and after.

    python benchmarks/optuna_select.py [--labels 10,100,1000] [--rounds 5] [--k 4]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from typing import Any

import numpy as np
import optuna

import rose

optuna.logging.set_verbosity(optuna.logging.WARNING)


def labelled_policy(kind: str, n: int, pool: np.ndarray, k: int) -> tuple[Any, np.ndarray]:
    """A policy told ``n`` labels of ``pool``'s first points (a live study has asked and been told once)."""
    rng = np.random.default_rng(n)
    order = rng.permutation(len(pool))
    points, rest = pool[order[:n]], pool[order[n:]]
    values = ((points - 0.3) ** 2).sum(axis=1)
    if kind == "live":
        policy = rose.policy("optuna", study=optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0)))
        policy.observe(points, values)
        [warm] = policy.select(rest, k=1)  # the labels join the study at its first selection
        policy.observe(rest[[warm]], [float(((rest[warm] - 0.3) ** 2).sum())])
        rest = np.delete(rest, warm, axis=0)
    else:
        policy = rose.policy("optuna", seed=0)
        policy.observe(points, values)
        if kind == "rebuilt":  # as in a campaign: the policy selected before; each request holds every label
            [warm] = policy.select(rest, k=1)
            points, values = np.vstack([points, rest[[warm]]]), [*values, float(((rest[warm] - 0.3) ** 2).sum())]
            policy.observe(points, values)
            rest = np.delete(rest, warm, axis=0)
    return policy, rest


def one_select(kind: str, n: int, pool: np.ndarray, k: int) -> float:
    policy, rest = labelled_policy(kind, n, pool, k)
    started = time.process_time()
    policy.select(rest, k=k)
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", default="10,100,1000")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--k", type=int, default=4)
    args = parser.parse_args()
    grid = np.linspace(0.0, 1.0, 60)
    pool = np.array([[a, b] for a in grid for b in grid])  # 3,600 candidates
    out: dict[str, Any] = {"load_before": os.getloadavg(), "k": args.k, "rounds": args.rounds, "optuna": optuna.__version__,
                           "cpu_s_per_select": {}}
    for n in (int(x) for x in args.labels.split(",")):
        kinds = ["live", "rebuilt", "rebuilt_after_restart"]
        times: dict[str, list[float]] = {kind: [] for kind in kinds}
        for round_ in range(args.rounds):
            for kind in (kinds if round_ % 2 == 0 else kinds[::-1]):
                times[kind].append(one_select(kind, n, pool, args.k))
        medians = {kind: statistics.median(times[kind]) for kind in kinds}
        out["cpu_s_per_select"][n] = {**{kind: round(t, 4) for kind, t in medians.items()},
                                      **{f"ratio_{kind}": round(medians[kind] / medians["live"], 2) for kind in kinds[1:]}}
    out["load_after"] = os.getloadavg()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
