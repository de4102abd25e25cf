"""The surrogate: a Gaussian process of the projectile range, trained and queried in-process.

``train`` and ``select`` are the bodies of the workflow's training and active-learning
function tasks. ``select`` implements two strategies: ``uncertainty`` picks the points
whose simulation removes the most predictive variance of the surrogate over the whole
input box (greedy integrated-variance reduction, exact for a Gaussian process, so one
batch never holds near-duplicates), ``random`` a uniform sample
(``rose_plugin_al.strategies.select_random``). They keep everything in the learner's working directory (the directory
of the simulation output they are given): ``batch-NNN.npz`` (labeled points),
``batch-NNN.npy`` (points to label next), ``surrogate.json`` (the fitted kernel
hyperparameters: JSON, not pickle) and ``metrics.json`` (read by the stop criterion).
"""

from __future__ import annotations

import glob
import json
import os
import warnings
from typing import Any

import model
import numpy as np
from rose_plugin_al import strategies
from scipy.linalg import solve_triangular
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import ConstantKernel, Matern

STRATEGIES = ("uncertainty", "random")

# A few hyperparameter fits of the first, tiny designs end at a length-scale bound; that is
# expected (some inputs matter little yet) and not worth a warning per iteration.
warnings.filterwarnings("ignore", category=ConvergenceWarning)


def unit_box(points: np.ndarray) -> np.ndarray:
    """Scale inputs from the parameter box to [0, 1]^d (what the GP sees)."""
    return (np.asarray(points) - model.LOWER) / (model.UPPER - model.LOWER)


def make_gp(theta: list[float] | None = None) -> GaussianProcessRegressor:
    """A GP with a Matern-5/2 ARD kernel; with ``theta`` the kernel is fixed (no refit)."""
    kernel = ConstantKernel(1.0, (1e-3, 1e3)) * Matern(
        length_scale=np.full(len(model.PARAMETERS), 0.5), length_scale_bounds=(1e-2, 1e3), nu=2.5
    )
    if theta is not None:
        kernel = kernel.clone_with_theta(np.asarray(theta))
    # the simulator is deterministic: a tiny jitter, no noise term
    return GaussianProcessRegressor(
        kernel, alpha=1e-8, normalize_y=True, n_restarts_optimizer=1 if theta is None else 0,
        optimizer="fmin_l_bfgs_b" if theta is None else None, random_state=0,
    )


def load_labels(workdir: str) -> tuple[np.ndarray, np.ndarray]:
    """Every labeled batch in ``workdir``, in order."""
    files = sorted(glob.glob(os.path.join(workdir, "batch-*.npz")))
    if not files:
        raise FileNotFoundError(f"no labeled batches (batch-*.npz) in {workdir}")
    batches = [np.load(path) for path in files]
    return np.vstack([b["inputs"] for b in batches]), np.concatenate([b["range"] for b in batches])


def simulation_output(stdout: str) -> dict[str, Any]:
    """The JSON line simulate.py printed last."""
    lines = [line for line in str(stdout).splitlines() if line.strip()]
    if not lines:
        raise ValueError("the simulation task printed nothing; expected a JSON line from simulate.py")
    info: dict[str, Any] = json.loads(lines[-1])
    return info


def train(sim_stdout: str, holdout: str) -> dict[str, Any]:
    """Fit the GP on every label so far and measure its RMSE (m) on the hold-out set."""
    workdir = os.path.dirname(simulation_output(sim_stdout)["labels"])
    inputs, ranges = load_labels(workdir)
    gp = make_gp().fit(unit_box(inputs), ranges)
    test = np.load(holdout)
    rmse = float(np.sqrt(np.mean((gp.predict(unit_box(test["inputs"])) - test["range"]) ** 2)))
    metrics = {"labeled_count": int(len(ranges)), "holdout_rmse": rmse}
    with open(os.path.join(workdir, "surrogate.json"), "w", encoding="utf-8") as handle:
        json.dump({"theta": gp.kernel_.theta.tolist(), "kernel": str(gp.kernel_), **metrics}, handle, indent=1)
    with open(os.path.join(workdir, "metrics.json"), "w", encoding="utf-8") as handle:
        json.dump(metrics, handle)
    return {**metrics, "workdir": workdir}


def variance_reduction_batch(gp: GaussianProcessRegressor, candidates: np.ndarray, k: int,
                             reference: int = 400) -> np.ndarray:
    """Greedy integrated-variance reduction: ``k`` candidate indices, best first.

    Each pick is the candidate whose (noise-free) observation lowers the GP's predictive
    variance summed over ``reference`` points (the first candidates: a uniform sample of
    the box) the most; the posterior is then updated as if it had been observed (the
    variance of a GP does not depend on the values), so the next pick accounts for it.
    """
    points = unit_box(candidates)
    reference = min(reference, len(points))
    kernel = gp.kernel_
    v = solve_triangular(gp.L_, kernel(gp.X_train_, points), lower=True)
    cov_ref = kernel(points[:reference], points) - v[:, :reference].T @ v  # posterior cov(reference, candidates)
    var = np.maximum(kernel.diag(points) - (v**2).sum(axis=0), 1e-12)
    chosen: list[int] = []
    updates: list[np.ndarray] = []
    for _ in range(k):
        gain = (cov_ref**2).sum(axis=0) / var
        gain[chosen] = -np.inf
        j = int(np.argmax(gain))
        chosen.append(j)
        u = kernel(points, points[j : j + 1])[:, 0] - v.T @ v[:, j]  # cov(candidates, pick)
        for previous in updates:
            u -= previous * previous[j]
        u /= np.sqrt(max(u[j], 1e-12))
        updates.append(u)
        cov_ref -= np.outer(u[:reference], u)
        var = np.maximum(var - u**2, 1e-12)
    return np.asarray(chosen)


def select(trained: dict[str, Any], strategy: str, batch: int, candidates: int, seed: int) -> dict[str, Any]:
    """Pick the next ``batch`` points to simulate from a fresh pool of random candidates."""
    if strategy not in STRATEGIES:
        raise ValueError(f"active_learn task: unknown strategy {strategy!r}; use one of {STRATEGIES}")
    workdir = trained["workdir"]
    inputs, ranges = load_labels(workdir)
    rng = np.random.default_rng([seed, len(ranges)])
    pool = model.sample(candidates, rng)
    if strategy == "uncertainty":
        with open(os.path.join(workdir, "surrogate.json"), encoding="utf-8") as handle:
            theta = json.load(handle)["theta"]
        gp = make_gp(theta).fit(unit_box(inputs), ranges)
        chosen = variance_reduction_batch(gp, pool, batch)
    else:
        chosen = strategies.select_random(len(pool), batch, seed=rng)
    index = len(glob.glob(os.path.join(workdir, "batch-*.npz")))
    path = os.path.join(workdir, f"batch-{index:03d}.npy")
    np.save(path, pool[chosen])
    return {"next_batch": path, "selected": int(len(chosen)), "learner_label": strategy}
