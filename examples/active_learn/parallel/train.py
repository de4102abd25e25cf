"""Training: mini-batch gradient descent on the labeled set, warm-started from the last model."""

import numpy as np
from problem import features, load, option

learning_rate = float(option("--learning_rate", "0.1"))
batch_size = int(option("--batch_size", "32"))
epochs = 10

data = load("labeled.npz")
assert data is not None, "run sim.py first"
z, y = features(data["x"]), data["y"]
model = load("model.npz")
w = model["w"] if model is not None and model["w"].shape[0] == z.shape[1] else np.zeros(z.shape[1])
rng = np.random.default_rng(0)
for _ in range(epochs):
    order = rng.permutation(len(y))
    for start in range(0, len(y), batch_size):
        batch = order[start:start + batch_size]
        error = z[batch] @ w - y[batch]
        w -= learning_rate * (z[batch].T @ error / len(batch) + 1e-4 * w)
np.savez("model.npz", w=w)
print(f"trained on {len(y)} samples, training MSE {np.mean((z @ w - y) ** 2):.4f}")
