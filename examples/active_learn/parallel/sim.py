"""Simulation: label the points active.py selected, topped up with random points to --n_labeled."""

import numpy as np
from problem import load, option, target

n_labeled = int(option("--n_labeled", "100"))
n_features = int(option("--n_features", "2"))
noise = float(option("--noise_level", "0.05"))
rng = np.random.default_rng()

data = load("labeled.npz")
x = data["x"] if data is not None and data["x"].shape[1] == n_features else np.empty((0, n_features))
selected = load("selected.npz")
if selected is not None and selected["x"].shape[1] == n_features:
    x = np.vstack([x, selected["x"]])
if len(x) < n_labeled:
    x = np.vstack([x, rng.uniform(-1, 1, size=(n_labeled - len(x), n_features))])
y = target(x) + rng.normal(0, noise, size=len(x))
np.savez("labeled.npz", x=x, y=y)
print(f"labeled set: {len(x)} samples, {n_features} features")
