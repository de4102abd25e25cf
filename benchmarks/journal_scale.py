"""Scenario 8: a million-record campaign journal - write rate, resume time, ``rose show``/``rose runs``.

Writes a journal the way a long campaign does (task lines grouped, an iteration line every
``--tasks-per-iteration`` tasks), then measures, each in a fresh process where users meet it:
reading it back for a resume (``load_resume_point``: every record parsed, the replay index
built), ``rose show RUN --no-plot``, ``rose show RUN`` with its learning curve (every
iteration's metric plotted) and ``rose runs`` (both read the run's ``curve.jsonl``). Prints
one JSON object.

    python benchmarks/journal_scale.py --records 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


async def write(run_dir: str, records: int, per_iteration: int) -> float:
    from rose.journal import Journal
    from rose.state import IterationState

    journal = Journal(run_dir)
    journal.open()
    journal.write("start", learner_id=None, manifest={"learner_type": "SequentialActiveLearner", "max_iter": 0,
                                                       "criterion": {"metric_name": "mean_squared_error_mse",
                                                                     "threshold": 0.01, "operator": "<"}})
    started = time.perf_counter()
    iteration = 0
    for n in range(records):
        journal.write("task", grouped=True, learner_id=None, iteration=iteration, key="", task="simulation",
                      kind="simulation", attempt=1, status="done", seconds=0.001, command=None, result={"n": n})
        if (n + 1) % per_iteration == 0:
            state = IterationState(iteration=iteration, metric_name="mean_squared_error_mse",
                                   metric_value=1.0 / (iteration + 1), state={"labeled_count": n + 1})
            journal.write("iteration", learner_id=None, state=state.to_dict(history=False), carry=[n])
            iteration += 1
        if n % 4096 == 0:
            await asyncio.sleep(0)  # let grouped lines be handed over, as in a real campaign
    seconds = time.perf_counter() - started
    journal.write("stop", learner_id=None, reason="max_iter_reached", final=None)
    journal.close()
    return seconds


def timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, env=env, timeout=600)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--tasks-per-iteration", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rose-journal-") as root:
        run_dir = os.path.join(root, "runs", "20261130-000000-big")
        seconds = asyncio.run(write(run_dir, args.records, args.tasks_per_iteration))
        size = Path(run_dir, "journal.jsonl").stat().st_size
        env = {**os.environ, "ROSE_RUNS_DIR": os.path.join(root, "runs")}
        python = sys.executable
        resume = timed([python, "-c", f"from rose.journal import load_resume_point; load_resume_point({run_dir!r})"], env)
        show = timed([python, "-m", "rose", "show", run_dir, "--no-plot"], env)
        plot = timed([python, "-m", "rose", "show", run_dir, "--plot", os.path.join(root, "curve.png")], env)
        runs = timed([python, "-m", "rose", "runs"], env)
    print(json.dumps({
        "records": args.records, "journal_mb": round(size / 1e6, 1),
        "write_us_per_record": round(1e6 * seconds / args.records, 2),
        "resume_seconds": round(resume, 2), "show_seconds": round(show, 2), "show_plot_seconds": round(plot, 2),
        "runs_seconds": round(runs, 2),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
