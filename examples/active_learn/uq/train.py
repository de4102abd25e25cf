"""Training: fit model --model_name on every labeled point."""

import numpy as np
from problem import fit, load, option

model = option("--model_name", "rbf")
data = load("labeled.npz")
assert data is not None, "run sim.py first"
np.save(f"model_{model}.npy", fit(model, data["x"], data["y"]))
print(f"trained {model}")
