"""Active learning: pick 20 diverse candidates far from the labeled set (greedy k-center)."""

import numpy as np
from problem import load
from rose_plugin_al.strategies import greedy_k_center

data = load("labeled.npz")
assert data is not None, "run sim.py first"
labeled = data["x"]
pool = np.random.default_rng().uniform(-1, 1, size=(400, labeled.shape[1]))
points = np.vstack([labeled, pool])
chosen = greedy_k_center(points, 20, candidates=np.arange(len(labeled), len(points)), selected=np.arange(len(labeled)))
np.savez("selected.npz", x=points[chosen])
print(f"selected {len(chosen)} candidates")
