"""The cost of fingerprinting a task's inputs (rose.fingerprint), per task, in microseconds.

Every task of a campaign with a journal gets a fingerprint of its inputs (the resume rule,
docs/fault-tolerance.md). This measures, in one process, the key ROSE used before (keyword
arguments by value, positional ones by type and length: ``legacy``) against
:func:`rose.fingerprint.of_call` plus, for a finished task, :func:`rose.fingerprint.file_digests`,
for typical inputs. Each figure is the median of ``--repeats`` runs of ``--calls`` calls; the
spread (min-max) is printed too. Prints one JSON object.

    python benchmarks/fingerprint.py --calls 20000 --repeats 5
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence, Sized
from typing import Any

import numpy as np

from rose.fingerprint import file_digests, of_call
from rose.state import jsonable


def legacy(kwargs: Mapping[str, Any], args: Sequence[Any] = ()) -> str:
    """The key before rose.fingerprint: kwargs by value, positional arguments by type and length."""
    shape = ",".join(f"{type(a).__name__}:{len(a) if isinstance(a, Sized) else ''}" for a in args)
    if not kwargs and not shape:
        return ""
    text = (json.dumps(jsonable(kwargs), sort_keys=True) if kwargs else "{}") + "|" + shape
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def per_call_us(fn: Callable[[], Any], calls: int, repeats: int) -> dict[str, float]:
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(calls):
            fn()
        runs.append((time.perf_counter() - started) / calls * 1e6)
    return {"median": round(statistics.median(runs), 2), "min": round(min(runs), 2), "max": round(max(runs), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    options = parser.parse_args()
    folder = tempfile.mkdtemp()
    path = os.path.join(folder, "data.csv")
    with open(path, "w") as handle:
        handle.write("x,y\n" * 2_500)  # 10 KB
    cases: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {
        "no inputs (scenario 3a)": ((), {}),
        "small kwargs": ((), {"value": 1.0, "mode": "fast"}),
        "5 candidates positional": (([17, 42, 99, 3, 8],), {}),
        "1,000 floats (numpy)": ((np.linspace(0, 1, 1000),), {}),
        "70 KB stdout string": (("x" * 70_000 + "\n",), {}),
        "10 KB file named": ((), {"data": path}),
    }
    out: dict[str, Any] = {"calls": options.calls, "repeats": options.repeats, "us_per_call": {}}
    for name, (args, kwargs) in cases.items():
        old = per_call_us(functools.partial(legacy, kwargs, args), options.calls, options.repeats)
        new = per_call_us(functools.partial(of_call, args, kwargs, folder), options.calls, options.repeats)
        paths = of_call(args, kwargs, folder).paths
        ended = per_call_us(functools.partial(file_digests, paths), options.calls, options.repeats) if paths else None
        out["us_per_call"][name] = {"legacy": old, "fingerprint": new, "files_at_end": ended}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
