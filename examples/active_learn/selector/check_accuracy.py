"""Stop criterion: accuracy on a held-out set (the only line printed)."""

import numpy as np
from problem import label, probabilities

x = np.random.default_rng(99).uniform(-2, 2, size=(2000, 2))
print(float(np.mean(probabilities(np.load("model.npy"), x).argmax(axis=1) == label(x))))
