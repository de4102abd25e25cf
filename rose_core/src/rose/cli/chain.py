"""One link of a ``rose submit`` chain: what the Slurm batch script runs (``python -m rose.cli.chain FILE``).

The chain file (JSON, written by ``rose submit``) holds the ``rose run`` command, the
runs folder, the sbatch command line, the campaign once it exists and every job so far.
A link runs ``rose run`` (fresh the first time, ``--resume CAMPAIGN`` after) and then:

* exit 0: the campaign ended by itself (its criterion, ``max_iter``): the chain is done;
* exit 75 (:data:`RESUMABLE`, a stop at the allocation's deadline): it submits its
  successor with ``--dependency=afterany:$SLURM_JOB_ID``, which resumes the campaign;
* a SIGTERM well before the job's end (``scancel``), or Ctrl-C: the chain stops; a SIGTERM at
  the time limit counts as a deadline stop (the successor resumes);
* any other exit: it resubmits at most ``max_failures`` times in a row, then gives up and
  says so.

SIGTERM (Slurm's walltime, ``scancel``) reaches ``rose run``, which stops cleanly; this
process ignores it so that it can still decide on the successor.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["RESUMABLE", "load_chain", "main", "run_link", "save_chain", "submit_job"]

#: ``rose run``'s exit code when a campaign stopped at its deadline and should continue (EX_TEMPFAIL)
RESUMABLE = 75
#: ``rose run``'s exit codes after SIGTERM (``scancel``) and Ctrl-C: the user stopped it, no successor
CANCELLED = (143, 130)


def load_chain(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a chain file."""
    with open(path) as handle:
        chain: dict[str, Any] = json.load(handle)
    return chain


def save_chain(path: str | os.PathLike[str], chain: dict[str, Any]) -> None:
    """Write a chain file atomically."""
    temporary = f"{path}.tmp"
    with open(temporary, "w") as handle:
        json.dump(chain, handle, indent=2)
    os.replace(temporary, path)


class SubmitError(RuntimeError):
    """sbatch is missing or Slurm rejected the job; the message says which and Slurm's words."""


def submit_job(chain: dict[str, Any], extra: list[str] | None = None) -> str:
    """``sbatch --parsable [chain's options] [extra] BATCH_SCRIPT`` (an argv list, no shell); the job id."""
    argv = [chain["sbatch"], "--parsable", *chain["sbatch_options"], *(extra or []), chain["batch_script"]]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120)
    except FileNotFoundError:
        raise SubmitError(f"sbatch not found at {chain['sbatch']!r}: run rose submit on a machine with Slurm's "
                          "client commands (or put sbatch on PATH)") from None
    if done.returncode != 0:
        words = (done.stderr or done.stdout).strip()
        raise SubmitError(f"Slurm rejected the job ({' '.join(argv[1:])}): {words}")
    return done.stdout.strip().split(";")[0]


def _campaigns(runs: str) -> set[str]:
    from rose.runs import find_runs

    return set(find_runs(runs))


def run_link(chain_file: str) -> int:
    """Run this allocation's ``rose run``, then submit the successor when the chain goes on."""
    chain = load_chain(chain_file)
    job_id = os.environ.get("SLURM_JOB_ID", "?")
    argv = [sys.executable, "-m", "rose", "run", chain["script"], "--runs-dir", chain["runs_dir"],
            *chain["run_options"]]
    if chain.get("campaign"):
        argv += ["--resume", chain["campaign"]]
    if chain["script_args"]:
        argv += ["--", *chain["script_args"]]
    before = _campaigns(chain["runs_dir"])
    print(f"rose chain: job {job_id} runs: {' '.join(argv)}", flush=True)
    started = time.time()
    from rose.deadline import slurm_job_times, term_is_walltime

    deadline = slurm_job_times(job_id)[1] if job_id != "?" else None
    terminated: list[float] = []
    process = subprocess.Popen(argv)
    # Slurm's warning (`#SBATCH --signal=B:USR1@N`) reaches this process, the batch step: pass it on,
    # so rose run stops at its next iteration with reason `deadline` (rose.deadline)
    signal.signal(signal.SIGUSR1, lambda signum, frame: process.send_signal(signal.SIGUSR1))
    # rose run stops cleanly on SIGTERM; this link notes when it came and still decides
    signal.signal(signal.SIGTERM, lambda signum, frame: terminated.append(time.time()))
    while True:
        try:
            code = process.wait()
            break
        except InterruptedError:  # pragma: no cover - PEP 475 retries wait() itself
            continue
    # SIGTERM well before the job's end is scancel (or preemption): the user stopped the chain
    cancelled = bool(terminated) and not term_is_walltime(terminated[0], deadline)
    at_walltime = bool(terminated) and not cancelled
    chain = load_chain(chain_file)  # re-read: nothing else writes it while this job holds the campaign
    if not chain.get("campaign"):
        created = sorted(_campaigns(chain["runs_dir"]) - before)
        if created:
            chain["campaign"] = os.path.basename(created[-1])
    chain["jobs"].append({"job_id": job_id, "started": started, "ended": time.time(), "exit": code})
    limit = int(chain["max_failures"])
    if code == 0:
        chain["state"] = "done"
        message = f"rose chain: job {job_id}: the campaign {chain.get('campaign')} ended by itself; chain done"
        successor = False
    elif cancelled or (code in CANCELLED and not at_walltime):
        chain["state"] = "cancelled"
        message = (f"rose chain: job {job_id} was cancelled (SIGTERM before its time limit: scancel; rose run exit "
                   f"{code}); the chain stops here. Continue it with rose submit ... --resume {chain.get('campaign')}")
        successor = False
    elif code == RESUMABLE or at_walltime:
        chain["failures"] = 0
        message = (f"rose chain: job {job_id}: the campaign stopped at the allocation's deadline (exit {code}); "
                   "submitting its successor")
        successor = True
    else:
        chain["failures"] = int(chain.get("failures", 0)) + 1
        if chain["failures"] > limit:
            chain["state"] = "failed"
            message = (f"rose chain: job {job_id}: rose run exited with {code}; giving up after {limit} "
                       f"resubmission(s) in a row (--max-failures {limit}). Resume it yourself with "
                       f"rose submit ... --resume {chain.get('campaign')}")
            successor = False
        else:
            message = (f"rose chain: job {job_id}: rose run exited with {code}; resubmitting "
                       f"(failure {chain['failures']} of at most {limit} in a row, --max-failures)")
            successor = True
    print(message, flush=True)
    if successor and code == RESUMABLE and not chain.get("campaign"):
        chain["state"] = "failed"
        print("rose chain: no campaign was created, so there is nothing to resume; chain stopped", flush=True)
        successor = False
    if successor:
        extra = [f"--dependency=afterany:{job_id}"] if job_id != "?" else []
        try:
            next_id = submit_job(chain, extra)
        except SubmitError as exc:
            chain["state"] = "failed"
            print(f"rose chain: could not submit the successor: {exc}", flush=True)
        else:
            chain["state"] = "queued"
            chain["submitted"].append(next_id)
            print(f"rose chain: successor job {next_id} submitted (starts after {job_id} ends)", flush=True)
    save_chain(chain_file, chain)
    return code


def main(argv: list[str] | None = None) -> int:
    """``python -m rose.cli.chain CHAIN_FILE``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1 or not Path(args[0]).is_file():
        sys.stderr.write("usage: python -m rose.cli.chain CHAIN_FILE (written by rose submit)\n")
        return 2
    return run_link(args[0])


if __name__ == "__main__":
    sys.exit(main())
