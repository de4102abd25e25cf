"""Stop criterion per model: MSE of --model_name on a test grid (the only line printed)."""

import numpy as np
from problem import design, option, target

model = option("--model_name", "rbf")
grid = np.linspace(-2, 2, 400)
print(float(np.mean((design(model, grid) @ np.load(f"model_{model}.npy") - target(grid)) ** 2)))
