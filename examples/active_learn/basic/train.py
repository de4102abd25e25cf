"""Training: fit the bootstrap ensemble of ridge models."""

import numpy as np
from problem import fit_ensemble, load, option

data = load("labeled.npz")
assert data is not None, "run sim.py first"
np.save("ensemble.npy", fit_ensemble(data["x"], data["y"], float(option("--ridge", "1e-3"))))
print(f"trained {len(data['x'])} samples")
