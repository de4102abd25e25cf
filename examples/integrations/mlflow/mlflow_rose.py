"""ROSE orchestrates, MLflow records: an active-learning campaign tracked by hand.

A Gaussian-process surrogate learns a made-up 1-D response (a damped two-tone signal)
by asking for labels where it is least certain. ROSE runs the loop (simulate -> train ->
select -> check the stop criterion); the ``MLflowROSETracker`` helper below sends the
configuration, a metric history per iteration, a learning-curve plot, the labelled data
and the final surrogate model to MLflow, following the MLflow integration guide.

    python examples/integrations/mlflow/mlflow_rose.py          # at most 15 iterations
    mlflow ui --port 5000                                       # then open http://localhost:5000

Without ``MLFLOW_TRACKING_URI`` MLflow uses its default local store, ``./mlflow.db``
(sqlite), which is also what ``mlflow ui`` opens when started in the same directory; no
server is needed. Set ``MLFLOW_TRACKING_URI=http://host:5000`` (or ``--tracking-uri``) to
log to a tracking server instead.

The tasks share data through files in the campaign directory, as they would on a cluster,
so they work on any ROSE backend. The same records, without a helper and without blocking
the loop, come from the plugin tracker: ``learner.add_tracker(rose.tracker("mlflow"))``.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import shlex
import sys
import warnings
from pathlib import Path
from typing import Any

import mlflow
import numpy as np

import rose
from rose import LearnerConfig, TaskConfig
from rose.al import SequentialActiveLearner
from rose.metrics import MEAN_SQUARED_ERROR_MSE

DOMAIN = (0.0, 4.0)
TEST_X = np.linspace(*DOMAIN, 201)  # where the surrogate is scored
POOL_X = np.linspace(*DOMAIN, 801)  # candidates the learner may ask labels for


def response(x: np.ndarray) -> np.ndarray:
    """The expensive "simulation": a damped two-tone response made up for this example."""
    return np.sin(5.0 * x) * np.exp(-0.3 * x) + 0.25 * np.cos(11.0 * x)


def make_surrogate(seed: int = 0) -> Any:
    """A Gaussian process with a fitted length scale (scikit-learn)."""
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

    kernel = ConstantKernel(1.0, (1e-2, 1e2)) * RBF(0.5, (1e-2, 10.0)) + WhiteKernel(1e-8, "fixed")
    return GaussianProcessRegressor(kernel=kernel, normalize_y=True, n_restarts_optimizer=2, random_state=seed)


def fit_surrogate(data: Path) -> tuple[Any, np.ndarray, np.ndarray]:
    """Fit the surrogate on every labelled point so far; returns (model, X, y)."""
    from sklearn.exceptions import ConvergenceWarning

    labelled = np.load(data / "labelled.npz")
    x, y = labelled["x"], labelled["y"]
    model = make_surrogate()
    with warnings.catch_warnings():
        # once the data pin the function down, the kernel optimiser stops on a flat likelihood
        # and says so; the fit is fine (the test MSE shows it)
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x.reshape(-1, 1), y)
    return model, x, y


class MLflowROSETracker:
    """The guide's helper: everything this campaign sends to MLflow, in one place.

    It uses MLflow's fluent API (one active run per process), as the guide does.
    """

    def __init__(self, experiment_name: str, tracking_uri: str | None = None, run_name: str | None = None) -> None:
        self.experiment_name = experiment_name
        self.tracking_uri = tracking_uri
        self.run_name = run_name
        self.run_id: str | None = None
        self.curve: list[tuple[int, float]] = []
        self.threshold: float | None = None

    def start_experiment(self, config: dict[str, Any]) -> str:
        """Open the run and log the campaign's configuration as parameters."""
        if self.tracking_uri:
            mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_experiment(self.experiment_name)
        run = mlflow.start_run(run_name=self.run_name)
        self.run_id = run.info.run_id
        mlflow.log_params(config)
        mlflow.set_tag("orchestrator", "ROSE")
        self.threshold = config.get("mse_threshold")
        return self.run_id

    def log_iteration(self, state: rose.IterationState) -> None:
        """Log the criterion metric and every numeric value the tasks reported, at step = iteration."""
        metrics: dict[str, float] = {}
        if state.metric_value is not None:
            metrics[state.metric_name or "metric"] = float(state.metric_value)
            self.curve.append((state.iteration, float(state.metric_value)))
        for key, value in state.state.items():
            if isinstance(value, (bool, int, float, np.number, np.bool_)):
                metrics[key] = float(value)
        mlflow.log_metrics(metrics, step=state.iteration)

    def log_learning_curve(self) -> None:
        """Attach a plot of the metric against iteration, threshold dashed."""
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator

        fig = Figure(figsize=(7, 4))
        ax = fig.add_subplot()
        if self.curve:
            steps, values = zip(*self.curve)
            ax.semilogy(steps, values, marker="o", label="test MSE")
        if self.threshold:
            ax.axhline(self.threshold, color="tab:red", linestyle="--", label="threshold")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("iteration")
        ax.set_ylabel("mean squared error")
        ax.grid(True, alpha=0.3)
        ax.legend()
        mlflow.log_figure(fig, "learning_curve.png")

    def log_dataset(self, path: Path) -> None:
        """Keep the final labelled data with the run."""
        mlflow.log_artifact(os.fspath(path), artifact_path="data")

    def log_model(self, model: Any, x_sample: np.ndarray, y_sample: np.ndarray) -> Any:
        """Log the final surrogate with its signature and its score on the sample."""
        import sklearn
        from mlflow.models import infer_signature

        predictions = model.predict(x_sample)
        mlflow.log_metric("final_test_mse", float(np.mean((predictions - y_sample) ** 2)))
        return mlflow.sklearn.log_model(
            model,
            name="surrogate_model",
            signature=infer_signature(x_sample, predictions),
            input_example=x_sample[:5],
            # naming the requirements skips MLflow's slow automatic inference
            pip_requirements=[f"scikit-learn=={sklearn.__version__}", f"numpy=={np.__version__}"],
            # MLflow stores scikit-learn models with skops, which loads only the types it is told to trust
            skops_trusted_types=sorted({f"{type(k).__module__}.{type(k).__qualname__}" for k in _kernels(model.kernel_)}),
        )

    def end_experiment(self, success: bool = True, reason: str | None = None) -> None:
        """Close the run, FAILED when the campaign did not complete."""
        if reason:
            mlflow.set_tag("stop_reason", reason)
        self.log_learning_curve()
        mlflow.end_run(status="FINISHED" if success else "FAILED")


def _kernels(kernel: Any) -> list[Any]:
    """A kernel and every kernel it is built from."""
    parts = [kernel]
    for name in ("k1", "k2"):
        if hasattr(kernel, name):
            parts.extend(_kernels(getattr(kernel, name)))
    return parts


def build_learner(engine: Any, threshold: float) -> tuple[SequentialActiveLearner, Path]:
    """The active-learning loop: four function tasks exchanging files in the campaign directory."""
    learner = SequentialActiveLearner(engine)
    data = Path(learner.run_dir) / "data"
    data.mkdir(parents=True, exist_ok=True)

    @learner.simulation_task(as_executable=False, log_params={"response": "damped two-tone on [0, 4]"})
    async def simulation(*upstream: Any, **kwargs: Any) -> dict[str, Any]:
        selected = data / "selected.npy"
        if selected.exists():
            new_x = np.load(selected)
            selected.unlink()
        else:
            rng = np.random.default_rng(int(kwargs.get("--seed", 7)))
            new_x = rng.uniform(*DOMAIN, int(kwargs.get("--n_initial", 4)))
        labelled = data / "labelled.npz"
        if labelled.exists():
            old = np.load(labelled)
            x, y = np.concatenate([old["x"], new_x]), np.concatenate([old["y"], response(new_x)])
        else:
            x, y = new_x, response(new_x)
        np.savez(labelled, x=x, y=y)
        return {"labelled_count": len(x), "new_labels": len(new_x)}

    @learner.training_task(as_executable=False)
    async def training(*upstream: Any, **kwargs: Any) -> dict[str, Any]:
        model, _, _ = fit_surrogate(data)
        test_mean = model.predict(TEST_X.reshape(-1, 1))
        _, pool_std = model.predict(POOL_X.reshape(-1, 1), return_std=True)
        np.savez(data / "predictions.npz", test_mean=test_mean, pool_std=pool_std)
        return {"length_scale": float(model.kernel_.k1.k2.length_scale),
                "log_marginal_likelihood": float(model.log_marginal_likelihood_value_)}

    @learner.active_learn_task(as_executable=False)
    async def active_learn(*upstream: Any, **kwargs: Any) -> dict[str, Any]:
        batch = int(kwargs.get("--batch_size", 3))
        spacing = float(kwargs.get("--min_spacing", 0.1))
        std = np.load(data / "predictions.npz")["pool_std"].copy()
        picks = []
        for _ in range(batch):  # most uncertain points, kept apart from each other
            best = int(np.argmax(std))
            picks.append(POOL_X[best])
            std[np.abs(POOL_X - POOL_X[best]) < spacing] = -np.inf
        np.save(data / "selected.npy", np.array(picks))
        pool_std = np.load(data / "predictions.npz")["pool_std"]
        return {"max_uncertainty": float(pool_std.max()), "mean_uncertainty": float(pool_std.mean())}

    @learner.as_stop_criterion(metric_name=MEAN_SQUARED_ERROR_MSE, threshold=threshold, as_executable=False)
    async def check_mse(*upstream: Any, **kwargs: Any) -> float:
        test_mean = np.load(data / "predictions.npz")["test_mean"]
        return float(np.mean((test_mean - response(TEST_X)) ** 2))

    return learner, data


async def run(
    engine: Any,
    *,
    max_iter: int = 15,
    threshold: float = 1e-5,
    experiment: str = "ROSE_AL_Experiment",
    tracking_uri: str | None = None,
    batch_size: int = 3,
) -> str:
    """Run the tracked campaign on ``engine``; returns the MLflow run id."""
    learner, data = build_learner(engine, threshold)
    config = LearnerConfig(
        simulation=TaskConfig(kwargs={"--n_initial": 4, "--seed": 7}),
        active_learn=TaskConfig(kwargs={"--batch_size": batch_size, "--min_spacing": 0.1}),
    )
    tracker = MLflowROSETracker(experiment, tracking_uri, run_name=os.path.basename(learner.run_dir))
    run_id = tracker.start_experiment({
        "max_iterations": max_iter,
        "mse_threshold": threshold,
        "initial_samples": 4,
        "batch_size": batch_size,
        "surrogate": "GaussianProcessRegressor(Constant * RBF)",
        "pool_size": len(POOL_X),
    })
    reason = "error"
    try:
        async for state in learner.start(max_iter=max_iter, initial_config=config):
            tracker.log_iteration(state)
            print(f"Iteration {state.iteration}: MSE {state.metric_value:.3e} "
                  f"with {state.labelled_count} labels")
            if state.should_stop:
                reason = "criterion_met"
        if reason != "criterion_met":
            reason = "max_iter_reached"
        model, x, y = fit_surrogate(data)
        tracker.log_dataset(data / "labelled.npz")
        info = tracker.log_model(model, TEST_X.reshape(-1, 1), response(TEST_X))
        print(f"Final surrogate: {len(x)} labels, logged as {info.model_uri}")
    finally:
        tracker.end_experiment(success=reason != "error", reason=reason)
    return run_id


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-iter", type=int, default=15, help="stop after this many iterations (default 15)")
    parser.add_argument("--threshold", type=float, default=1e-5, help="stop when the test MSE drops below this")
    parser.add_argument("--experiment", default="ROSE_AL_Experiment", help="MLflow experiment name")
    parser.add_argument("--tracking-uri", default=None,
                        help="MLflow tracking URI (default: MLFLOW_TRACKING_URI, else sqlite:///mlflow.db here)")
    args = parser.parse_args(argv)
    if args.max_iter < 1 or not math.isfinite(args.threshold):
        parser.error("--max-iter must be >= 1 and --threshold a number")
    return args


async def main(argv: list[str] | None = None) -> int:
    """Run the example with the local backend."""
    args = parse_args(argv)
    engine = await rose.engine("local")
    try:
        await run(engine, max_iter=args.max_iter, threshold=args.threshold,
                  experiment=args.experiment, tracking_uri=args.tracking_uri)
    finally:
        await engine.shutdown()
    uri = args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
    if uri and uri.startswith(("http://", "https://")):
        print(f"Done. See the run at {uri.rstrip('/')}")
    else:
        where = f" --backend-store-uri {shlex.quote(uri)}" if uri else ""
        print(f"Done. See the run with: mlflow ui --port 5000{where}   (then open http://localhost:5000)")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
