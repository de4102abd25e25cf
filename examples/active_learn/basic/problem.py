"""A 1-D surrogate problem for the basic example (numpy only).

Target: y = sin(3x) + 0.3x on [-2, 2]. Model: an ensemble of 5 ridge fits on Gaussian bumps, on
bootstrap resamples; the ensemble's disagreement tells where to label next.
"""

from __future__ import annotations

import os
import sys

import numpy as np

CENTERS = np.linspace(-2, 2, 17)
WIDTH = 0.4
N_MODELS = 5


def option(name: str, default: str) -> str:
    """The value after ``name`` on the command line, or ``default``."""
    argv = sys.argv[1:]
    return argv[argv.index(name) + 1] if name in argv else default


def target(x: np.ndarray) -> np.ndarray:
    """The expensive simulation we want a surrogate for."""
    return np.sin(3 * x) + 0.3 * x


def design(x: np.ndarray) -> np.ndarray:
    """Gaussian bumps centred on a grid over [-2, 2]."""
    return np.exp(-(((x[:, None] - CENTERS) / WIDTH) ** 2))


def fit_ensemble(x: np.ndarray, y: np.ndarray, ridge: float) -> np.ndarray:
    """``N_MODELS`` ridge fits on bootstrap resamples: coefficients ``[N_MODELS, len(CENTERS)]``."""
    rng = np.random.default_rng(0)
    coefs = []
    for _ in range(N_MODELS):
        idx = rng.integers(0, len(x), len(x))
        a = design(x[idx])
        coefs.append(np.linalg.solve(a.T @ a + ridge * np.eye(a.shape[1]), a.T @ y[idx]))
    return np.array(coefs)


def predict(coefs: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Every ensemble member's predictions: ``[N_MODELS, len(x)]``."""
    return coefs @ design(x).T


def load(name: str) -> dict[str, np.ndarray] | None:
    """An .npz file of the working directory as a dict, or None."""
    if not os.path.exists(name):
        return None
    with np.load(name) as data:
        return {key: data[key] for key in data.files}
