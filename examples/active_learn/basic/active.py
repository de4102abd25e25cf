"""Active learning: the --batch candidates the ensemble disagrees on most (max variance)."""

import numpy as np
from problem import option, predict
from rose_plugin_al.strategies import select_max_variance

pool = np.linspace(-2, 2, 401)
chosen = select_max_variance(predict(np.load("ensemble.npy"), pool), int(option("--batch", "3")))
np.savez("selected.npz", x=pool[chosen])
print("selected", ", ".join(f"{v:.2f}" for v in pool[chosen]))
