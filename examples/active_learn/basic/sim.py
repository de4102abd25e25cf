"""Simulation: run the target on the selected points (or --n_initial random ones at first)."""

import numpy as np
from problem import load, option, target

data = load("labeled.npz")
selected = load("selected.npz")
if data is None:
    x_new = np.random.default_rng(1).uniform(-2, 2, int(option("--n_initial", "6")))
    x, y = x_new, target(x_new)
else:
    x_new = selected["x"] if selected is not None else np.empty(0)
    x, y = np.concatenate([data["x"], x_new]), np.concatenate([data["y"], target(x_new)])
np.savez("labeled.npz", x=x, y=y)
print(f"{len(x_new)} new simulations, {len(x)} labeled")
