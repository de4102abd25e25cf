"""Training: the ridge classifier on the labeled points."""

import numpy as np
from problem import fit, load

data = load("labeled.npz")
assert data is not None, "run sim.py first"
np.save("model.npy", fit(data["x"], data["y"]))
print("trained")
