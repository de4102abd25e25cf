"""Active learning: label the pool points the uncertainty task ranked first (--indices)."""

import numpy as np
from problem import option

idx = np.array([int(i) for i in option("--indices", "").split(",") if i], dtype=int)
np.savez("selected.npz", idx=idx)
print(f"selected {len(idx)} points")
