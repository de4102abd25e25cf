"""Bytes a campaign writes per iteration when a task reports a large state value (issue 27, item 7).

A ``SequentialActiveLearner`` of function tasks runs ``--iterations`` iterations; its training
task returns ``{"blob": <--value-mb MB string>, "labeled_count": n}``, so every iteration
carries one large state value. Measured in a fresh process each: the growth of the campaign
directory (every file in it) per iteration, and the bytes handed to ``write()`` meanwhile
(``wchar`` of ``/proc/self/io``). The same campaign runs once with the ROSE core of
``--baseline`` (a git revision: its core and plugins, extracted with ``git archive``
and put first on ``PYTHONPATH``) and once with the core of this checkout; both figures are printed, as JSON.

    python benchmarks/disk_per_iteration.py                   # baseline: the core before the change
    python benchmarks/disk_per_iteration.py --baseline main --iterations 20
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

#: the last commit of main whose journal wrote each large state value several times (issue 27, item 7)
BEFORE = "d71c584"
ROOT = Path(__file__).resolve().parent.parent

CAMPAIGN = """
import asyncio, json, os, sys

import rose
from rose.al import SequentialActiveLearner

SIZE = int(float(sys.argv[2]) * 1024 * 1024)


def wchar():
    with open("/proc/self/io") as handle:
        return next(int(line.split()[1]) for line in handle if line.startswith("wchar"))


async def main():
    async with rose.engine("local", max_workers=2) as engine:
        learner = SequentialActiveLearner(engine, name="disk")

        @learner.simulation_task(as_executable=False)
        async def simulate(*upstream):
            return None

        @learner.training_task(as_executable=False)
        async def train(*upstream, iteration=[0]):
            iteration[0] += 1
            return {"blob": format(iteration[0], "x") * (SIZE // len(format(iteration[0], "x"))),
                    "labeled_count": iteration[0]}

        @learner.active_learn_task(as_executable=False)
        async def select(*upstream):
            return None

        before = wchar()
        async for state in learner.start(max_iter=int(sys.argv[1])):
            pass
        written = wchar() - before
        total = sum(p.stat().st_size for p in __import__("pathlib").Path(learner.run_dir).rglob("*") if p.is_file())
        print(json.dumps({"written": written, "on_disk": total, "iterations": state.iteration + 1}))


asyncio.run(main())
"""


def measure(python_path: str | None, iterations: int, value_mb: float, work: Path) -> dict[str, float]:
    """Run the campaign once in a fresh process; bytes per iteration (on disk, written)."""
    env = dict(os.environ, ROSE_RUNS_DIR=str(work / "runs"))
    if python_path:
        env["PYTHONPATH"] = python_path + os.pathsep + env.get("PYTHONPATH", "")
    script = work / "campaign.py"
    script.write_text(CAMPAIGN)
    out = subprocess.run([sys.executable, str(script), str(iterations), str(value_mb)], env=env, cwd=work,
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"the campaign failed ({'the baseline' if python_path else 'this checkout'}): "
                         f"{out.stderr[-2000:]}")
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    count = figures["iterations"]
    return {"iterations": count, "on_disk_mb_per_iteration": round(figures["on_disk"] / count / 2**20, 3),
            "written_mb_per_iteration": round(figures["written"] / count / 2**20, 3)}


def extract_core(revision: str, into: Path) -> str:
    """The ``PYTHONPATH`` of ``revision``'s core and plugins (``src`` folders), extracted under ``into``."""
    archive = into / "code.tar"
    with archive.open("wb") as handle:
        subprocess.run(["git", "archive", revision, "rose_core/src", "plugins"], cwd=ROOT, stdout=handle, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into / "code", filter="data")
    folders = [into / "code" / "rose_core" / "src", *sorted((into / "code" / "plugins").glob("*/src"))]
    return os.pathsep.join(str(folder) for folder in folders)


def main() -> None:
    """Print the bytes per iteration before and after, as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=BEFORE, help=f"git revision of the 'before' core (default {BEFORE})")
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--value-mb", type=float, default=1.0)
    options = parser.parse_args()
    report: dict[str, object] = {"value_mb": options.value_mb}
    with tempfile.TemporaryDirectory() as scratch:
        base = Path(scratch)
        (base / "before").mkdir()
        (base / "after").mkdir()
        report["before"] = {"revision": options.baseline,
                            **measure(extract_core(options.baseline, base), options.iterations, options.value_mb,
                                      base / "before")}
        report["after"] = {"revision": "this checkout",
                           **measure(None, options.iterations, options.value_mb, base / "after")}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
