"""Simulation: run the target on the selected pool points (or 8 random ones at first)."""

import numpy as np
from problem import POOL, load, target

data, selected = load("labeled.npz"), load("selected.npz")
if data is None:
    x = np.random.default_rng(2).uniform(-2, 2, 8)
else:
    x = np.concatenate([data["x"], POOL[selected["idx"]] if selected is not None else []])
np.savez("labeled.npz", x=x, y=target(x))
print(f"{len(x)} labeled")
