"""Scenario 6: steady-state against synchronous batch active learning, to the same target error.

The flagship surrogate problem (projectile range with drag, 4 inputs; the simulator of
``examples/surrogate_demo/model.py``), with simulation times that vary: each point takes a
seeded lognormal time between 0.2 and 2 s (median 0.6 s). Both runs use the same
``SteadyStateActiveLearner``, the same tasks and ``in_flight`` simulations at once; only the
retrain rule differs:

* synchronous batch: ``retrain_every=in_flight`` - wait for the whole batch (the slowest
  simulation), train, select the next batch;
* steady state: ``retrain_every=1`` - train as soon as any simulation finishes (with every
  other one that finished meanwhile) and refill only the free slots.

Training refits the kernel's hyperparameters every 8 new labels (in both modes) and only
refits the process on the data in between. Selection is the Gaussian process's predictive
standard deviation over random candidates,
pending-aware by kriging believer: points in flight (and those already picked for this
batch) count as labelled with the surrogate's own prediction, so no two simulations explore
the same spot. The stop criterion is the hold-out RMSE. Prints, last, the wall-time ratio.

    python benchmarks/steady_state.py --reps 3          # or: python benchmarks/run.py --only 6 --no-rose03
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import statistics
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "examples" / "surrogate_demo"))

import model  # noqa: E402  - the demo's simulator

warnings.filterwarnings("ignore")  # sklearn's length-scale bound notes on tiny designs


def duration(point_id: int, seed: int) -> float:
    """The seeded, varying cost of one simulation: lognormal, clipped to [0.2, 2] s."""
    rng = np.random.default_rng([seed, point_id])
    return float(min(2.0, max(0.2, rng.lognormal(math.log(0.6), 0.6))))


class Surrogate:
    """The GP surrogate: all labels so far, the hold-out set, and believer-based selection."""

    def __init__(self, seed: int, holdout: int = 200) -> None:
        rng = np.random.default_rng(10_000 + seed)
        self.holdout_x = model.sample(holdout, rng)
        self.holdout_y = model.simulate(self.holdout_x)
        self.x: list[np.ndarray] = []
        self.y: list[float] = []
        self.rng = np.random.default_rng(seed)
        self.lock = threading.Lock()
        self.gp: Any = None
        self.tuned_at = 0  # labels when the kernel's hyperparameters were last fitted

    def unit(self, points: np.ndarray) -> np.ndarray:
        return (np.asarray(points, dtype=float) - model.LOWER) / (model.UPPER - model.LOWER)

    def train(self, results: list[dict[str, Any]]) -> dict[str, Any]:
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import ConstantKernel, Matern

        with self.lock:
            for result in results:
                self.x.append(np.asarray(result["x"]))
                self.y.append(float(result["y"]))
            if self.gp is None or len(self.y) >= self.tuned_at + 8:  # refit the kernel every 8 new labels
                kernel = ConstantKernel(1.0, (1e-3, 1e3)) * Matern(np.full(4, 0.5), (1e-2, 1e3), nu=2.5)
                gp = GaussianProcessRegressor(kernel, alpha=1e-8, normalize_y=True, random_state=0)
                self.tuned_at = len(self.y)
            else:  # in between, the same kernel on more data: cheap
                gp = GaussianProcessRegressor(self.gp.kernel_, alpha=1e-8, normalize_y=True, optimizer=None)
            gp.fit(self.unit(np.array(self.x)), np.array(self.y))
            self.gp = gp
            error = float(np.sqrt(np.mean((gp.predict(self.unit(self.holdout_x)) - self.holdout_y) ** 2)))
            return {"rmse": error, "labeled_count": len(self.y)}

    def select(self, pending: list[list[float]], count: int, candidates: int = 400) -> list[list[float]]:
        if self.gp is None or count == 0:
            return [list(p) for p in model.sample(count, self.rng)]
        from sklearn.gaussian_process import GaussianProcessRegressor

        pool = model.sample(candidates, self.rng)
        believed_x = [*self.x, *(np.asarray(p) for p in pending)]
        chosen: list[list[float]] = []
        for _ in range(count):
            believer = GaussianProcessRegressor(self.gp.kernel_, alpha=1e-8, normalize_y=True, optimizer=None)
            xs = self.unit(np.array(believed_x))
            believer.fit(xs, self.gp.predict(xs))  # pending and picked points labelled by the surrogate
            _mean, std = believer.predict(self.unit(pool), return_std=True)
            best = int(np.argmax(std))
            chosen.append(list(pool[best]))
            believed_x.append(pool[best])
            pool = np.delete(pool, best, axis=0)
        return chosen


async def campaign(mode: str, seed: int, in_flight: int, target: float, max_iter: int) -> dict[str, Any]:
    import rose
    from rose.al import SteadyStateActiveLearner
    from rose.metrics import ROOT_MEAN_SQUARED_ERROR_RMSE

    surrogate = Surrogate(seed)
    trace: list[tuple[float, float, int]] = []
    async with rose.engine("local", max_workers=in_flight + 2) as engine:
        learner = SteadyStateActiveLearner(engine, name=f"steady-{mode}")

        @learner.simulation_task(as_executable=False)
        async def simulate(point: list[float], point_id: int = 0) -> dict[str, Any]:
            time.sleep(duration(point_id, seed))
            return {"x": list(point), "y": float(model.simulate(np.array([point]))[0])}

        @learner.training_task(as_executable=False)
        async def train(results: list[dict[str, Any]]) -> dict[str, Any]:
            return surrogate.train(results)

        @learner.active_learn_task(as_executable=False)
        async def select(trained: Any, pending: list[list[float]], count: int) -> list[list[float]]:
            return surrogate.select(pending, count)

        @learner.as_stop_criterion(metric_name=ROOT_MEAN_SQUARED_ERROR_RMSE, threshold=target, as_executable=False)
        async def error(trained: dict[str, Any]) -> float:
            return float(trained["rmse"])

        started = time.perf_counter()
        retrain = 1 if mode == "steady" else in_flight
        final = None
        async for state in learner.start(max_iter=max_iter, in_flight=in_flight, retrain_every=retrain):
            trace.append((time.perf_counter() - started, float(state.metric_value), int(state.labeled_total)))
            final = state
        seconds = time.perf_counter() - started
    assert final is not None
    return {"mode": mode, "seed": seed, "seconds": seconds, "reached": bool(final.should_stop),
            "simulations": int(final.labeled_total), "rmse": float(final.metric_value), "trace": trace}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="steady-state vs synchronous batch active learning")
    parser.add_argument("--reps", type=int, default=3, help="seeds per mode (default 3)")
    parser.add_argument("--in-flight", type=int, default=8, help="simulations at once (default 8)")
    parser.add_argument("--target", type=float, default=3.0, help="hold-out RMSE target in metres (default 3)")
    parser.add_argument("--max-iter", type=int, default=400, help="retrainings at most per campaign")
    parser.add_argument("--json", type=Path, help="write every run (with its error-vs-time trace) here")
    parser.add_argument("--plot", type=Path, help="write error against wall time for both modes here (PNG)")
    args = parser.parse_args(argv)
    os.environ.setdefault("ROSE_RUNS_DIR", tempfile.mkdtemp(prefix="rose-steady-"))
    runs = []
    for seed in range(args.reps):
        for mode in ("synchronous", "steady"):
            result = asyncio.run(campaign(mode, seed, args.in_flight, args.target, args.max_iter))
            runs.append(result)
            print(f"{mode:<12} seed {seed}: {result['seconds']:6.1f} s, {result['simulations']:3d} simulations, "
                  f"RMSE {result['rmse']:.2f} m{'' if result['reached'] else ' (target not reached)'}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(runs))
    if args.plot:
        plot(runs, args.plot, args.target)
    summary = {}
    for mode in ("synchronous", "steady"):
        mine = [r for r in runs if r["mode"] == mode]
        summary[mode] = (statistics.median(r["seconds"] for r in mine), statistics.median(r["simulations"] for r in mine),
                         all(r["reached"] for r in mine))
    (sync_s, sync_n, sync_ok), (steady_s, steady_n, steady_ok) = summary["synchronous"], summary["steady"]
    print(f"medians: synchronous {sync_s:.1f} s / {sync_n:g} simulations; steady-state {steady_s:.1f} s / "
          f"{steady_n:g} simulations ({steady_n / sync_n:.2f}x the simulations)"
          f"{'' if sync_ok and steady_ok else '; NOT every run reached the target'}")
    print(f"steady-state speedup to target: {sync_s / steady_s:.2f}x")
    return 0


def plot(runs: list[dict[str, Any]], path: Path, target: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4))
    colours = {"synchronous": "tab:gray", "steady": "tab:red"}
    for run in runs:
        times = [t for t, _e, _n in run["trace"]]
        errors = [e for _t, e, _n in run["trace"]]
        label = f"{'steady state' if run['mode'] == 'steady' else 'synchronous batch'}" if run["seed"] == 0 else None
        axis.step(times, errors, where="post", color=colours[run["mode"]], alpha=0.8, label=label)
    axis.axhline(target, color="black", linestyle="--", linewidth=1, label=f"target {target:g} m")
    axis.set_yscale("log")
    axis.set_xlabel("wall time (s)")
    axis.set_ylabel("hold-out RMSE of the range (m)")
    axis.set_title("Active learning with varying simulation times (8 in flight)")
    axis.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)


if __name__ == "__main__":
    sys.exit(main())
