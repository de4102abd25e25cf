"""Criterion: MSE = 10 * n_features / n_labeled of the last simulation in this directory.

--text prints a sentence instead of a number (a broken criterion).
"""

import json

from _record import option, record

record("check_mse")
if option("--text"):
    print("MSE is low, all good")
else:
    with open("sim.json", encoding="utf-8") as handle:
        state = json.load(handle)
    print(10 * state["n_features"] / state["n_labeled"])
