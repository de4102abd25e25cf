"""ROSE surrogate demo: learn the range of a projectile with air drag from few simulations.

Two active-learning loops run side by side with ParallelActiveLearner, identical except
for how they pick the next simulations: by the surrogate's uncertainty, or at random.
Each loop: simulate a batch (a separate process, ``simulate.py``) -> train a Gaussian
process on all labels so far (function task) -> select the next batch (function task)
-> stop when the surrogate's RMSE on a hold-out set is below the target (``check_error.py``).

    python examples/surrogate_demo/workflow.py            # or: make demo
    rose run examples/surrogate_demo/workflow.py --max-iter 4 -- --target 8

It ends with a summary: which strategy reached the target with fewer simulations, and
where the learning curve, the journal and the MLflow runs are.
"""
# ruff: noqa: E402 - the clock starts before the (slow) scientific imports below

from __future__ import annotations

import time

STARTED = time.monotonic()  # the wall time in the summary includes start-up and imports

import argparse
import asyncio
import logging
import os
import sys
from typing import Any

import rose
import rose.overrides
from rose import LearnerConfig, TaskConfig
from rose.al import ParallelActiveLearner
from rose.metrics import ROOT_MEAN_SQUARED_ERROR_RMSE
from rose.plotting import learning_curve
from rose.runs import load_run, reached_target

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import surrogate

PYTHON = sys.executable
STRATEGIES = surrogate.STRATEGIES  # learner 0, learner 1
EXPERIMENT = "rose-surrogate-demo"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="ROSE surrogate demo: uncertainty vs random sampling")
    parser.add_argument("--target", type=float, default=3.0, help="stop at a hold-out RMSE below this many metres (3)")
    parser.add_argument("--initial", type=int, default=10, help="simulations in the initial design (10)")
    parser.add_argument("--batch", type=int, default=8, help="simulations per iteration (8)")
    parser.add_argument("--iterations", type=int, default=16, help="at most this many iterations per learner (16)")
    parser.add_argument("--holdout", type=int, default=300, help="hold-out simulations to measure the error (300)")
    parser.add_argument("--candidates", type=int, default=1500, help="random candidates scored per selection (1500)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the designs (0)")
    parser.add_argument("--no-mlflow", action="store_true", help="do not record the campaign in MLflow")
    return parser.parse_args(argv)


async def campaign(args: argparse.Namespace) -> dict[str, Any]:
    """Run both learners; return what the summary needs."""
    async with rose.engine("local") as engine:
        acl = ParallelActiveLearner(engine, name="surrogate-demo")
        run_dir = acl.run_dir
        os.makedirs(run_dir, exist_ok=True)
        holdout = os.path.join(run_dir, "holdout.npz")

        @acl.utility_task
        async def label_holdout(n: int, path: str) -> list[str]:
            return [PYTHON, f"{HERE}/simulate.py", "--sample", str(n), "--seed", str(10_000 + args.seed), "--out", path]

        @acl.simulation_task
        async def simulate(*upstream: Any) -> list[str]:
            # first iteration: a random initial design; then the batch the selection picked
            if upstream and isinstance(upstream[-1], dict):
                batch = upstream[-1]["next_batch"]
                return [PYTHON, f"{HERE}/simulate.py", "--points", batch, "--out", batch[:-4] + ".npz"]
            return [PYTHON, f"{HERE}/simulate.py", "--sample", str(args.initial), "--seed", str(args.seed),
                    "--out", "batch-000.npz"]

        @acl.training_task(as_executable=False)
        async def train(sim_output: str, *, holdout: str) -> dict[str, Any]:
            return surrogate.train(sim_output, holdout)

        @acl.active_learn_task(as_executable=False)
        async def select(sim_output: str, trained: dict[str, Any], **how: Any) -> dict[str, Any]:
            return surrogate.select(trained, **how)

        @acl.as_stop_criterion(metric_name=ROOT_MEAN_SQUARED_ERROR_RMSE, threshold=args.target)
        async def holdout_error() -> list[str]:
            return [PYTHON, f"{HERE}/check_error.py"]

        configs = [
            LearnerConfig(
                training=TaskConfig(kwargs={"holdout": holdout}),
                active_learn=TaskConfig(kwargs={"strategy": strategy, "batch": args.batch,
                                                "candidates": args.candidates, "seed": args.seed}),
            )
            for strategy in STRATEGIES
        ]
        acl.add_tracker(rose.tracker("progress", labels=dict(enumerate(STRATEGIES)), unit="m"))
        mlflow_tracker = None
        if not args.no_mlflow:
            try:
                mlflow_tracker = rose.tracker("mlflow", experiment_name=EXPERIMENT)
            except LookupError as exc:  # rose-plugin-mlflow is not installed
                print(f"not recording the campaign in MLflow: {exc}")
            else:
                acl.add_tracker(mlflow_tracker)

        print(f"campaign directory: {run_dir}")
        print(f"labeling {args.holdout} hold-out points ...", flush=True)
        await label_holdout(args.holdout, holdout)
        await acl.start(parallel_learners=len(STRATEGIES), max_iter=args.iterations, learner_configs=configs)
    return {"run_dir": run_dir, "mlflow": mlflow_tracker}


def log_plot_to_mlflow(tracker: Any, plot: str) -> None:
    """Attach our learning curve (error vs simulations) to the campaign's MLflow run."""
    run_id = getattr(tracker, "run_id", None)
    uri = getattr(tracker, "resolved_tracking_uri", None)
    if not run_id or not uri:
        return
    import shutil
    import tempfile

    from mlflow.tracking import MlflowClient

    with tempfile.TemporaryDirectory() as folder:  # a name of its own beside the tracker's learning_curve.png
        named = os.path.join(folder, "error_vs_simulations.png")
        shutil.copyfile(plot, named)
        MlflowClient(tracking_uri=uri).log_artifact(run_id, named)


def verdict(run: Any, reached: dict[str, int | None]) -> str:
    """Which strategy won, in one sentence."""
    done = {s: n for s, n in reached.items() if n}
    final = {s: run.learners[i].iterations[-1] for i, s in enumerate(STRATEGIES)}
    if not done:
        best = min(STRATEGIES, key=lambda s: final[s]["metric_value"])
        return f"No strategy reached the target; {best} sampling got closest. Try more --iterations."
    winner = min(done, key=lambda s: done[s])
    ties = [s for s in done if done[s] == done[winner]]
    if len(ties) > 1:
        return f"A tie: {' and '.join(ties)} sampling both reached the target with {done[winner]} simulations."
    others = []
    for s in STRATEGIES:
        if s == winner:
            continue
        if reached[s]:
            others.append(f"{s} sampling needed {reached[s]}, {reached[s] / done[winner]:.1f}x as many")
        else:
            others.append(f"{s} sampling had not reached it after {final[s].get('labeled_count')}")
    return f"Winner: {winner} sampling reached the target with {done[winner]} simulations ({'; '.join(others)})."


def summary(args: argparse.Namespace, result: dict[str, Any], plot: str, seconds: float) -> str:
    """The closing report: who won, with how many simulations, and where everything is."""
    run = load_run(result["run_dir"])
    rows, reached = [], {}
    for learner_id, strategy in enumerate(STRATEGIES):
        history = run.learners[learner_id]
        last = history.iterations[-1]
        hit = reached_target(history, run.threshold, run.operator)
        labels = hit.get("labeled_count") if hit else None
        reached[strategy] = labels
        rows.append((strategy, f"{labels}" if labels else f"not reached ({last.get('labeled_count')})",
                     f"{last['metric_value']:.2f} m", str(len(history.iterations)), history.status))
    header = ("strategy", "simulations to target", "final RMSE", "iterations", "stop reason")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        f"ROSE surrogate demo: range of a projectile with quadratic drag (4 inputs), "
        f"target hold-out RMSE < {args.target:g} m",
        *("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in [header, *rows]),
    ]
    lines.append(verdict(run, reached))
    lines += [
        f"Plot:      {plot}",
        f"Journal:   {os.path.join(run.path, 'journal.jsonl')} (per learner: learner-0/, learner-1/)",
    ]
    tracker = result.get("mlflow")
    uri = getattr(tracker, "resolved_tracking_uri", None) if tracker is not None else None
    if uri:
        lines += [
            f"MLflow:    experiment {EXPERIMENT!r} in {uri}",
            f"           mlflow ui --backend-store-uri {uri}",
        ]
    lines.append(f"Wall time: {seconds:.0f} s (start-up and the {args.holdout} hold-out simulations included)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")  # MLflow's own start-up messages
    result = asyncio.run(campaign(args))
    if rose.overrides.current().dry_run:  # `rose run --dry-run`: nothing ran, there is nothing to compare
        print(f"\nDry run: no task ran, so there are no errors to compare. Campaign: {result['run_dir']}")
        return 0
    plot = learning_curve(result["run_dir"], title="Projectile range surrogate: hold-out error vs simulations")
    if result.get("mlflow") is not None:
        log_plot_to_mlflow(result["mlflow"], plot)
    print()
    print(summary(args, result, plot, time.monotonic() - STARTED))
    return 0


if __name__ == "__main__":
    sys.exit(main())
