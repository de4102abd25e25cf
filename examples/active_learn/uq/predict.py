"""One Monte-Carlo prediction of --model_name on the pool (bootstrap seed --iteration).

Prints the absolute path of the saved predictions: the uncertainty task reads them.
"""

import os

import numpy as np
from problem import POOL, design, fit, load, option

model, j = option("--model_name", "rbf"), int(option("--iteration", "0"))
data = load("labeled.npz")
assert data is not None, "run sim.py first"
path = os.path.abspath(f"pred_{model}_{j}.npy")
np.save(path, design(model, POOL) @ fit(model, data["x"], data["y"], seed=j))
print(path)
