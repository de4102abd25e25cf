"""An AL algorithm whose model reaches accuracy --start + --gain * (call number - 1)."""

import json

from _record import calls_so_far, option, record

record("algo")
accuracy = float(option("--start", "0.5")) + float(option("--gain", "0.0")) * (calls_so_far("algo") - 1)
with open("quality.json", "w", encoding="utf-8") as handle:
    json.dump({"accuracy": round(min(accuracy, 1.0), 6)}, handle)
print("selected")
