"""A 2-D classification problem for the selector example (numpy only).

Class 1 lies above the curve x2 = 0.6 sin(2 x1) on [-2, 2]^2. Model: a ridge classifier on
random Fourier features, probabilities through a logistic link.
"""

from __future__ import annotations

import os
import sys

import numpy as np

RNG_FEATURES = np.random.default_rng(3)
W = RNG_FEATURES.normal(0, 1.5, size=(2, 150))
B = RNG_FEATURES.uniform(0, 2 * np.pi, size=150)


def option(name: str, default: str) -> str:
    """The value after ``name`` on the command line, or ``default``."""
    argv = sys.argv[1:]
    return argv[argv.index(name) + 1] if name in argv else default


def label(x: np.ndarray) -> np.ndarray:
    """The expensive oracle: the true class of each point."""
    return (x[:, 1] > 0.6 * np.sin(2 * x[:, 0])).astype(int)


def features(x: np.ndarray) -> np.ndarray:
    """Random Fourier features and a bias."""
    return np.hstack([np.sqrt(2 / W.shape[1]) * np.cos(x @ W + B), np.ones((len(x), 1))])


def fit(x: np.ndarray, y: np.ndarray, ridge: float = 1e-2) -> np.ndarray:
    """Ridge regression onto +-1 targets."""
    z = features(x)
    return np.linalg.solve(z.T @ z + ridge * np.eye(z.shape[1]), z.T @ (2.0 * y - 1.0))


def probabilities(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Class probabilities ``[len(x), 2]``."""
    p1 = 1.0 / (1.0 + np.exp(-4.0 * (features(x) @ w)))
    return np.stack([1.0 - p1, p1], axis=1)


def pool() -> np.ndarray:
    """The unlabeled candidates every algorithm chooses from."""
    return np.random.default_rng(11).uniform(-2, 2, size=(1500, 2))


def load(name: str) -> dict[str, np.ndarray] | None:
    """An .npz file of the working directory as a dict, or None."""
    if not os.path.exists(name):
        return None
    with np.load(name) as data:
        return {key: data[key] for key in data.files}
