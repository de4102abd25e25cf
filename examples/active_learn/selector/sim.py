"""Labeling: ask the oracle for the selected candidates (or --n_initial random ones at first)."""

import numpy as np
from problem import label, load, option, pool

data = load("labeled.npz")
selected = load("selected.npz")
if data is None:
    idx = np.random.default_rng(5).choice(len(pool()), int(option("--n_initial", "12")), replace=False)
else:
    idx = np.concatenate([data["idx"], selected["idx"] if selected is not None else []]).astype(int)
x = pool()[idx]
np.savez("labeled.npz", idx=idx, x=x, y=label(x))
print(f"{len(idx)} labeled")
