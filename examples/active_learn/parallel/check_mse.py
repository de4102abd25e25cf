"""Stop criterion: the model's MSE on a held-out set (the only line printed)."""

import numpy as np
from problem import features, load, test_set

data, model = load("labeled.npz"), load("model.npz")
assert data is not None and model is not None, "run sim.py and train.py first"
x, y = test_set(data["x"].shape[1])
print(float(np.mean((features(x) @ model["w"] - y) ** 2)))
