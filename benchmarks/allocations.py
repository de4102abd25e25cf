"""Campaigns across Slurm allocations (issue 25): a chain of 1-minute jobs against one uninterrupted run.

Needs a local Slurm (``make slurm``, or this script starts one in a temporary folder with
:mod:`rose.testing.slurm`). It runs ``benchmarks/allocations_campaign.py`` (12 iterations of
15-20 s) twice at once: uninterrupted with ``rose run``, and as a ``rose submit --time 1`` chain.
Then it compares them and prints:

* the number of allocations the chain needed (at least 3, no person involved);
* whether the selections (the active-learning task's results) and the metrics per iteration are
  equal to the uninterrupted run's;
* finished tasks lost (an iteration's task without a ``done`` record) and re-run (two ``done``
  records of one task of one iteration): both must be 0;
* work thrown away at the boundaries: task time of attempts cancelled at a deadline, as a share of
  the allocated time (target <= 10%); and, separately, the idle tail (deadline stop to the
  allocation's time limit);
* the hand-over: from a deadline stop to the successor's first task, leaving out the queue wait
  (target <= 10 s).

``--cancel`` instead measures cancellation on an 8-iteration campaign: ``scancel`` of the job at
10%, 30%, 50%, 70% and 90% into an iteration, each followed by ``rose submit --resume``; the
result must equal the uninterrupted run, nothing lost or re-run, no process left behind.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CAMPAIGN = HERE / "allocations_campaign.py"
#: where each run's lines go (one section per mode); ``benchmarks/run.py`` copies the file into results.md
RESULTS = HERE / "allocations.md"
_lines: list[str] = []


def report(line: str) -> None:
    """Print a result line and keep it for :data:`RESULTS`."""
    print(line, flush=True)
    _lines.append(line)


def _write_section(title: str, head: str) -> None:
    sections: dict[str, str] = {}
    if RESULTS.is_file():
        for part in RESULTS.read_text().split("\n### ")[1:]:
            name, _, body = part.partition("\n")
            sections[name] = body
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    sections[title] = f"\n{head} ({stamp}):\n\n" + "\n".join(f"- {line.removeprefix('allocations: ')}"
                                                            for line in _lines) + "\n"
    text = "## Campaigns across Slurm allocations (`benchmarks/allocations.py`, needs Slurm: run on its own)\n"
    for name in sorted(sections):
        text += f"\n### {name}\n{sections[name].rstrip()}\n"
    RESULTS.write_text(text)


def _records(run_dir: Path) -> list[dict[str, Any]]:
    from rose.journal import read_journal

    return list(read_journal(str(run_dir / "journal.jsonl")))


def _campaign_dir(runs: Path) -> Path:
    found = [p for p in runs.iterdir() if (p / "journal.jsonl").is_file()]
    if len(found) != 1:
        raise SystemExit(f"expected one campaign under {runs}, found {found}")
    return found[0]


def _outcome(run_dir: Path) -> dict[str, Any]:
    """Per iteration: the selection and the metric; per (iteration, task): done count; thrown-away seconds.

    Work thrown away is the time an interrupted iteration had run: from the campaign's last start,
    resume or finished iteration to the ``interrupted`` record (its tasks run again on resume;
    cancelled task attempts are not journaled, so this is where their time shows).
    """
    from rose import results

    selections: dict[int, Any] = {}
    metrics: dict[int, Any] = {}
    done: dict[tuple[int, str], int] = {}
    thrown = 0.0
    since: float | None = None
    for record in _records(run_dir):
        kind = record["type"]
        if kind == "task":
            key = (record.get("iteration"), record.get("task"))
            if record.get("status") == "done":
                done[key] = done.get(key, 0) + 1
                if record.get("task") == "active_learn":
                    selections[record["iteration"]] = results.decode(record["result"], str(run_dir))
        elif kind == "iteration":
            metrics[record["state"]["iteration"]] = record["state"].get("metric_value")
            since = record["time"]
        elif kind in ("start", "resume"):
            since = record["time"]
        elif kind == "interrupted" and since is not None:
            thrown += record["time"] - since
            since = None
    return {"selections": selections, "metrics": metrics, "done": done, "thrown_seconds": thrown}


def _job_times(job_id: str, env: dict[str, str]) -> dict[str, float]:
    out = subprocess.run(["scontrol", "show", "job", job_id, "-o"], capture_output=True, text=True, env=env).stdout
    fields = dict(part.split("=", 1) for part in out.split() if "=" in part)
    import datetime as dt

    def stamp(name: str) -> float:
        value = fields.get(name, "")
        try:
            return dt.datetime.fromisoformat(value).timestamp()
        except ValueError:
            return float("nan")

    return {"submit": stamp("SubmitTime"), "start": stamp("StartTime"), "end": stamp("EndTime"),
            "limit_end": stamp("StartTime") + 60.0}


def chain(args: argparse.Namespace, slurm: Any, work: Path) -> int:
    env = {**os.environ, **slurm.env, "ROSE_BENCH_SCALE": str(args.scale)}
    ref_runs, chain_runs = work / "reference", work / "chain"
    report(f"allocations: uninterrupted reference and a chain of {args.time}-minute jobs, both running now")
    reference = subprocess.Popen([sys.executable, "-m", "rose", "run", str(CAMPAIGN), "--runs-dir", str(ref_runs)],
                                 env=env, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    began = time.time()
    submitted = subprocess.run([sys.executable, "-m", "rose", "submit", str(CAMPAIGN), "--runs-dir", str(chain_runs),
                                "--time", str(args.time), *args.sbatch_option], env=env, cwd=work,
                               capture_output=True, text=True)
    print(submitted.stdout.strip(), submitted.stderr.strip(), flush=True)
    if submitted.returncode != 0:
        return 1
    chain_file = next(chain_runs.glob(".chains/*/chain.json"))
    while True:
        state = json.loads(chain_file.read_text())
        if state.get("state") in ("done", "failed", "cancelled"):
            break
        if time.time() - began > args.timeout:
            report(f"allocations: the chain did not finish within {args.timeout} s: {state}")
            return 1
        time.sleep(2)
    elapsed = time.time() - began
    reference.wait(timeout=args.timeout)
    jobs = state["jobs"]
    report(f"allocations: chain {state['state']} after {elapsed:.0f} s in {len(jobs)} allocation(s): "
          f"{[j['job_id'] for j in jobs]}")
    ours, theirs = _outcome(_campaign_dir(chain_runs)), _outcome(_campaign_dir(ref_runs))
    same_selection = ours["selections"] == theirs["selections"]
    same_metrics = ours["metrics"] == theirs["metrics"]
    lost = [key for key in theirs["done"] if key not in ours["done"]]
    rerun = [key for key, count in ours["done"].items() if count > 1]
    times = {j["job_id"]: _job_times(j["job_id"], env) for j in jobs}
    allocated = sum(t["end"] - t["start"] for t in times.values())
    records = _records(_campaign_dir(chain_runs))
    stops = [r for r in records if r["type"] == "stop"]
    firsts = []  # first task start of each allocation after the first
    starts = [r["time"] for r in records if r["type"] in ("start", "resume")]
    task_starts = sorted(r["time"] - float(r.get("seconds") or 0) for r in records if r["type"] == "task")
    for opened in starts[1:]:
        later = [t for t in task_starts if t >= opened]
        firsts.append(later[0] if later else float("nan"))
    handovers = []
    idle = []
    ordered = [times[j["job_id"]] for j in jobs]
    for k, stop in enumerate(stops[:-1]):
        if k + 1 >= len(ordered) or k >= len(firsts):
            break
        queue = max(0.0, ordered[k + 1]["start"] - ordered[k]["end"])
        handovers.append(firsts[k] - stop["time"] - queue)
        idle.append(ordered[k]["limit_end"] - stop["time"])
        report(f"allocations: boundary {k + 1}: deadline stop at +{stop['time'] - began:.1f} s, job "
              f"{jobs[k]['job_id']} ended +{ordered[k]['end'] - began:.0f} s, job {jobs[k + 1]['job_id']} started "
              f"+{ordered[k + 1]['start'] - began:.0f} s (Slurm's times, whole seconds), its first task "
              f"+{firsts[k] - began:.1f} s; rose run of the next job started +{jobs[k + 1]['started'] - began:.1f} s")
    report(f"allocations: allocations {len(jobs)} (target >= 3)")
    report(f"allocations: selections equal to the uninterrupted run: {same_selection}; metrics equal: {same_metrics}")
    report(f"allocations: finished tasks lost {len(lost)}, re-run {len(rerun)} (target 0 and 0)")
    interrupted = sum(1 for r in records if r["type"] == "interrupted")
    report(f"allocations: work thrown away (iterations cut short: {interrupted}) {ours['thrown_seconds']:.1f} s of "
           f"{allocated:.0f} s allocated = {100 * ours['thrown_seconds'] / max(allocated, 1e-9):.1f}% (target <= 10%)")
    report(f"allocations: idle tail per boundary (deadline stop to the time limit): "
           f"{', '.join(f'{x:.1f}' for x in idle)} s")
    stop_times = [stop["time"] for stop in stops]
    report(f"allocations: hand-over per boundary, stop to the successor's first task without the queue wait: "
           f"{', '.join(f'{x:.1f}' for x in handovers)} s (target <= 10 s); with it: "
           f"{', '.join(f'{first - stop_at:.1f}' for first, stop_at in zip(firsts, stop_times))} s "
           "(Slurm's times are whole seconds)")
    ok = (len(jobs) >= 3 and same_selection and same_metrics and not lost and not rerun and state["state"] == "done"
          and all(h <= 10 for h in handovers))
    return 0 if ok else 1


def _iterations_done(runs: Path) -> int:
    found = [p for p in runs.iterdir() if (p / "journal.jsonl").is_file()] if runs.is_dir() else []
    return sum(1 for r in _records(found[0]) if r["type"] == "iteration") if found else 0


def _submit(env: dict[str, str], work: Path, runs: Path, *extra: str) -> tuple[str, Path]:
    subprocess.run([sys.executable, "-m", "rose", "submit", str(CAMPAIGN), "--runs-dir", str(runs), *extra],
                   env=env, cwd=work, capture_output=True, text=True, check=True)
    chain_file = max(runs.glob(".chains/*/chain.json"), key=lambda p: p.stat().st_mtime)
    return json.loads(chain_file.read_text())["submitted"][-1], chain_file


def _wait_chain(chain_file: Path, states: tuple[str, ...], timeout: float) -> dict[str, Any]:
    end = time.time() + timeout
    while time.time() < end:
        state = json.loads(chain_file.read_text())
        if state.get("state") in states:
            return state
        time.sleep(0.5)
    raise SystemExit(f"allocations: {chain_file} did not reach {states} within {timeout:.0f} s")


def cancellations(args: argparse.Namespace, slurm: Any, work: Path) -> int:
    """``scancel`` at 5 moments of an iteration, each followed by ``rose submit --resume``."""
    iterations = 8
    env = {**os.environ, **slurm.env, "ROSE_BENCH_SCALE": str(args.scale), "ROSE_BENCH_ITERATIONS": str(iterations)}
    ref_runs, runs = work / "reference", work / "cancelled"
    reference = subprocess.Popen([sys.executable, "-m", "rose", "run", str(CAMPAIGN), "--runs-dir", str(ref_runs)],
                                 env=env, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    iteration_seconds = 17.0 * args.scale
    campaign: str | None = None
    leftovers: list[str] = []
    for k, fraction in enumerate((0.1, 0.3, 0.5, 0.7, 0.9)):
        before = _iterations_done(runs)
        job, chain_file = _submit(env, work, runs, "--time", "10", *(["--resume", campaign] if campaign else []))
        end = time.time() + 300
        while _iterations_done(runs) <= before and time.time() < end:  # one iteration of this job finished
            time.sleep(0.2)
        time.sleep(fraction * iteration_seconds)
        subprocess.run(["scancel", job], env=env, check=True)
        state = _wait_chain(chain_file, ("cancelled", "failed", "done"), 180)
        campaign = campaign or state.get("campaign")
        time.sleep(1.0)
        alive = subprocess.run(["pgrep", "-af", str(runs)], capture_output=True, text=True).stdout.strip()
        if alive:
            leftovers.append(alive)
        report(f"allocations: cancel {k + 1}: scancel of job {job} {fraction:.0%} into an iteration "
              f", chain {state['state']}, processes left: {alive or 'none'}")
    job, chain_file = _submit(env, work, runs, "--time", "10", "--resume", str(campaign))
    state = _wait_chain(chain_file, ("done", "failed", "cancelled"), args.timeout)
    reference.wait(timeout=args.timeout)
    ours, theirs = _outcome(_campaign_dir(runs)), _outcome(_campaign_dir(ref_runs))
    lost = [key for key in theirs["done"] if key not in ours["done"]]
    rerun = [key for key, count in ours["done"].items() if count > 1]
    same = ours["selections"] == theirs["selections"] and ours["metrics"] == theirs["metrics"]
    report(f"allocations: after 5 cancellations the campaign ended {state['state']}; selections and metrics equal to "
          f"the uninterrupted run: {same}; finished tasks lost {len(lost)}, re-run {len(rerun)}; processes left "
          f"behind: {len(leftovers)}")
    return 0 if same and not lost and not rerun and not leftovers and state["state"] == "done" else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--time", type=int, default=1, help="each allocation's time limit in minutes (default 1)")
    parser.add_argument("--scale", type=float, default=1.0, help="task durations scale (default 1: 15-20 s iterations)")
    parser.add_argument("--timeout", type=float, default=1500.0, help="give up after this many seconds")
    parser.add_argument("--sbatch-option", action="append", default=[], help="passed to rose submit")
    parser.add_argument("--cancel", action="store_true", help="measure cancellation (scancel at 5 moments) instead")
    args = parser.parse_args()
    args.sbatch_option = [f"--sbatch-option={o}" for o in args.sbatch_option]
    from rose.testing.slurm import LocalSlurm, why_not

    reason = why_not()
    if reason:
        report(f"allocations: skipped, no local Slurm: {reason}")
        return 0
    with tempfile.TemporaryDirectory(prefix="rose-alloc-") as folder:
        work = Path(folder)
        slurm = LocalSlurm(work / "slurm").start()
        try:
            code = cancellations(args, slurm, work) if args.cancel else chain(args, slurm, work)
        finally:
            slurm.stop()
        if args.cancel:
            _write_section("Cancellation", f"`python benchmarks/allocations.py --cancel --scale {args.scale:g}`")
        else:
            _write_section("Chain", f"`python benchmarks/allocations.py --time {args.time}`")
        return code


if __name__ == "__main__":
    sys.exit(main())
