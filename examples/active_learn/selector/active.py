"""Active learning with one of the strategies of rose_plugin_al.strategies (--strategy)."""

import numpy as np
from problem import load, option, pool, probabilities
from rose_plugin_al import strategies

strategy, batch = option("--strategy", "margin"), int(option("--batch", "8"))
data = load("labeled.npz")
assert data is not None, "run sim.py first"
candidates = np.setdiff1d(np.arange(len(pool())), data["idx"])
x = pool()[candidates]
probs = probabilities(np.load("model.npy"), x)
if strategy == "random":
    chosen = strategies.select_random(len(candidates), batch)
elif strategy == "margin":
    chosen = strategies.select_margin(probs, batch)
elif strategy == "diverse":  # small margins, spread out over the plane
    chosen = strategies.select_diverse(strategies.margin_scores(probs), x, batch, most_uncertain="low")
else:
    raise SystemExit(f"unknown strategy {strategy!r}: use random, margin or diverse")
np.savez("selected.npz", idx=candidates[chosen])
print(f"{strategy}: selected {len(chosen)}")
