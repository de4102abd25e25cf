"""kill -9 at random moments, then ``resume``: the same selections and metrics as an uninterrupted run.

For every built-in learner (the AL, UQ and RL plugins), both example learner plugins and a
SequentialActiveLearner selecting with the optuna plugin's query policy (``OptunaPolicy``), this
runs the campaign of the learner's ``LearnerContract`` test class (its tasks, ROSE's contract
criterion) in a child process: once uninterrupted, then ``--moments`` times killed with
SIGKILL at a random moment (uniform over the uninterrupted run's duration, seeded) and
resumed from its journal until it ends. Each killed-and-resumed campaign must call the same
tasks with the same inputs (the fingerprints the journal records), hand the same carries from
iteration to iteration, record the same metric values and end with the same stop reason
(``LearnerContract.compare_runs``). Prints one JSON object: per learner, how many moments
were tried, how many killed the campaign before it ended, how many iterations (all learners'
together) had finished at each kill, and every difference found. The moments are drawn over
the campaign itself (from its start to its stop record), not over the process's exit.

A contract campaign's tasks take microseconds, so a campaign shorter than ``--min-campaign``
seconds spends much of its time opening and its kills fall mostly before its first iteration
ends. Every other moment (the 2nd, 4th, ...) such a campaign's child therefore waits
``min_campaign / max_iter`` seconds after each state, so that those kills fall after 0, 1,
2, ... iterations alike (``paced_moments`` in the report); the other moments kill it
unpaced, mostly inside its tasks. A paced run must equal the unpaced one too.

    python benchmarks/kill_resume.py --moments 10            # every learner, 10 moments each
    python benchmarks/kill_resume.py --only ThompsonSampling --moments 2
    python benchmarks/kill_resume.py --only OptunaPolicy --moments 10
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
#: learner -> (the test module holding its LearnerContract class, the class)
CASES = {
    "SequentialActiveLearner": ("plugins/al/tests/test_al_contract.py", "TestSequentialActiveLearnerContract"),
    "ParallelActiveLearner": ("plugins/al/tests/test_al_contract.py", "TestParallelActiveLearnerContract"),
    "SteadyStateActiveLearner": ("plugins/al/tests/test_al_contract.py", "TestSteadyStateActiveLearnerContract"),
    "AlgorithmSelector": ("plugins/al/tests/test_al_contract.py", "TestAlgorithmSelectorContract"),
    "SeqUQLearner": ("plugins/al/tests/test_al_contract.py", "TestSeqUQLearnerContract"),
    "ParallelUQLearner": ("plugins/al/tests/test_al_contract.py", "TestParallelUQLearnerContract"),
    "SequentialReinforcementLearner": ("plugins/rl/tests/test_rl_contract.py", "TestSequentialReinforcementLearnerContract"),
    "ParallelReinforcementLearner": ("plugins/rl/tests/test_rl_contract.py", "TestParallelReinforcementLearnerContract"),
    "ParallelExperience": ("plugins/rl/tests/test_rl_contract.py", "TestParallelExperienceContract"),
    "QueryByCommittee": ("examples/rose-plugin-committee/tests/test_committee_policy.py", "TestQueryByCommitteeContract"),
    "ThompsonSampling": ("examples/rose-plugin-thompson/tests/test_thompson_policy.py", "TestThompsonSamplingContract"),
    "OptunaPolicy": ("plugins/optuna/tests/test_optuna_campaign.py", "TestOptunaPolicyCampaignContract"),
}


def contract_of(name: str) -> Any:
    path, cls = CASES[name]
    spec = importlib.util.spec_from_file_location(f"kill_resume_{name}", ROOT / path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str((ROOT / path).parent))  # the test module's helpers
    spec.loader.exec_module(module)
    return getattr(module, cls)()


async def child(name: str, run_dir: str, max_iter: int, resume: bool, pace: float) -> None:
    """One campaign of ``name`` in ``run_dir`` (the process the parent kills); ``pace`` seconds
    between two of its states."""
    contract = contract_of(name)
    engine = await contract.open_engine()
    try:
        learner = contract.learner(engine)
        run = contract.start(learner, max_iter=max_iter, config=contract.met_at(None), resume=run_dir if resume else None)
        if not resume:
            os.makedirs(run_dir, exist_ok=True)
        print("ready", flush=True)
        async for _state in run:
            if pace:
                await asyncio.sleep(pace)
        print(f"run_dir {learner.run_dir}", flush=True)
    finally:
        await engine.shutdown()


def spawn(name: str, run_dir: Path, max_iter: int, resume: bool, pace: float = 0.0) -> subprocess.Popen[str]:
    argv = [sys.executable, __file__, "--child", name, "--run-dir", str(run_dir), "--max-iter", str(max_iter),
            "--pace", str(pace)]
    return subprocess.Popen([*argv, *(["--resume"] if resume else [])], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=run_dir.parent, env={**os.environ, "ROSE_RUNS_DIR": str(run_dir.parent / "runs")})


def campaign_dir(output: str) -> str:
    return next(line.split(" ", 1)[1] for line in output.splitlines() if line.startswith("run_dir "))


def uninterrupted(name: str, folder: Path, max_iter: int, pace: float) -> tuple[float, str, str]:
    """Run the campaign once to its end: its duration (start to stop record), its directory, stderr on failure."""
    folder.mkdir()
    process = spawn(name, folder / "run", max_iter, False, pace)
    assert process.stdout is not None
    process.stdout.readline()  # ready
    started = time.monotonic()
    last = process.stdout.readline()  # the campaign's end ("run_dir ..."): the engine's shutdown and the
    duration = time.monotonic() - started  # interpreter's exit take longer, and a kill there tests nothing
    out, err = process.communicate(timeout=300)
    if process.returncode != 0:
        return duration, "", err[-2000:] or f"exit code {process.returncode}"
    return duration, campaign_dir(last + out), ""


def one_learner(name: str, moments: int, max_iter: int, rng: random.Random, scratch: Path,
                min_campaign: float = 0.0) -> dict[str, Any]:
    contract = contract_of(name)
    duration, reference_dir, error = uninterrupted(name, scratch / f"{name}-reference", max_iter, 0.0)
    if error:
        return {"error": f"the uninterrupted campaign failed: {error}"}
    reference = contract.summary(reference_dir)
    durations = {0.0: duration}  # pace -> how long the campaign takes at that pace
    pace = round(min_campaign / max_iter, 3) if duration < min_campaign else 0.0
    if pace:
        durations[pace], paced_dir, error = uninterrupted(name, scratch / f"{name}-reference-paced", max_iter, pace)
        if error:
            return {"error": f"the uninterrupted paced campaign failed: {error}"}
        contract.compare_runs("paced", None, reference, contract.summary(paced_dir), f"waiting {pace} s between states")
    report: dict[str, Any] = {"uninterrupted_s": {str(p): round(d, 3) for p, d in durations.items()},
                              "paced_moments": 0, "moments": 0, "killed": 0, "equal": 0,
                              "iterations_done_at_kill": [], "differences": []}
    for moment in range(moments):
        moment_pace = pace if moment % 2 else 0.0  # every other moment paced, when the campaign is short
        report["paced_moments"] += bool(moment_pace)
        low, high, found, delay = 0.0, durations[moment_pace], [], 0.0
        for attempt in range(8):  # a moment after the campaign's end, or before its journal exists, is drawn again
            folder = scratch / f"{name}-{moment}-{attempt}"
            folder.mkdir()
            delay = rng.uniform(low, high)
            process = spawn(name, folder / "run", max_iter, False, moment_pace)
            assert process.stdout is not None
            process.stdout.readline()
            time.sleep(delay)
            killed = process.poll() is None
            if killed:
                os.kill(process.pid, signal.SIGKILL)
            process.communicate(timeout=60)
            run_dir = folder / "runs"
            found = sorted(p for p in run_dir.iterdir() if (p / "journal.jsonl").exists()) if run_dir.is_dir() else []
            if killed and found and contract.summary(str(found[0]))["reason"] is not None:
                killed = False  # the campaign had ended (its stop record is written): the process was only exiting
            if not killed:
                high = delay
            elif not found:
                low = delay
            else:
                break
        report["moments"] += 1
        if not found or not killed:
            report["differences"].append({"moment": moment, "error": "no kill hit a running campaign in 8 attempts"})
            continue
        report["killed"] += 1
        report["iterations_done_at_kill"].append(len(contract.summary(str(found[0]))["metrics"]))
        resumed = spawn(name, found[0], max_iter, True, moment_pace)
        out, err = resumed.communicate(timeout=300)
        if resumed.returncode != 0:
            report["differences"].append({"moment": moment, "delay_s": round(delay, 3), "error": err[-2000:]})
            continue
        try:
            contract.compare_runs("kill -9 and resume", None, reference, contract.summary(str(found[0])),
                                  f"killed after {delay:.3f} s and resumed")
        except AssertionError as exc:
            report["differences"].append({"moment": moment, "delay_s": round(delay, 3), "difference": str(exc)})
        else:
            report["equal"] += 1
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moments", type=int, default=10)
    parser.add_argument("--max-iter", type=int, default=6)
    parser.add_argument("--seed", type=int, default=26)
    parser.add_argument("--only", default="", help="comma-separated learner names (default: all)")
    parser.add_argument("--min-campaign", type=float, default=0.3,
                        help="seconds: a shorter campaign waits between its iterations (0: never)")
    parser.add_argument("--pace", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--run-dir", help=argparse.SUPPRESS)
    parser.add_argument("--resume", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        asyncio.run(child(args.child, args.run_dir, args.max_iter, args.resume, args.pace))
        return
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(CASES)
    rng = random.Random(args.seed)
    out: dict[str, Any] = {"moments_per_learner": args.moments, "max_iter": args.max_iter, "seed": args.seed, "learners": {}}
    with tempfile.TemporaryDirectory(prefix="rose-kill-resume-") as scratch:
        for name in names:
            out["learners"][name] = one_learner(name, args.moments, args.max_iter, rng, Path(scratch), args.min_campaign)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
