"""The toy surrogate problem shared by this example's task scripts (numpy only).

Target: y = sum_j sin(3 x_j) / sqrt(F) + noise on x in [-1, 1]^F. Model: a linear model
on random Fourier features of each input, trained by mini-batch gradient descent. Every script works in
its current directory, which ROSE sets to the learner's own directory.
"""

from __future__ import annotations

import os
import sys

import numpy as np

N_RFF = 24
SCALE = 3.0


def option(name: str, default: str) -> str:
    """The value after ``name`` on the command line, or ``default``."""
    argv = sys.argv[1:]
    return argv[argv.index(name) + 1] if name in argv else default


def target(x: np.ndarray) -> np.ndarray:
    """The function the surrogate learns."""
    return np.sin(3 * x).sum(axis=1) / np.sqrt(x.shape[1])


def features(x: np.ndarray) -> np.ndarray:
    """Random Fourier features of each input (the target is additive), plus a bias."""
    rng = np.random.default_rng(1000)
    w = rng.normal(0.0, 3.0, size=N_RFF)
    b = rng.uniform(0, 2 * np.pi, size=N_RFF)
    z = np.cos(x[:, :, None] * w + b).reshape(x.shape[0], -1)
    return np.hstack([SCALE * np.sqrt(2.0 / z.shape[1]) * z, np.ones((x.shape[0], 1))])


def load(name: str) -> dict[str, np.ndarray] | None:
    """An .npz file of this directory as a dict, or None."""
    if not os.path.exists(name):
        return None
    with np.load(name) as data:
        return {key: data[key] for key in data.files}


def test_set(n_features: int) -> tuple[np.ndarray, np.ndarray]:
    """A fixed held-out set."""
    rng = np.random.default_rng(7)
    x = rng.uniform(-1, 1, size=(500, n_features))
    return x, target(x)
