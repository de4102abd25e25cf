"""Simulation: labels --n_labeled samples with --n_features features (records its call)."""

import json

from _record import option, record

record("sim")
state = {"n_labeled": int(option("--n_labeled", "100")), "n_features": int(option("--n_features", "2"))}
with open("sim.json", "w", encoding="utf-8") as handle:
    json.dump(state, handle)
print(f"labeled {state['n_labeled']} samples")
