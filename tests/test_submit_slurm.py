"""`rose submit` on a real one-node Slurm: the batch script, the chain of jobs, its limits, the lock.

tests/slurm_chain_campaign.py does one iteration per allocation and then exits 75 (what
`rose run` returns after a stop at the allocation's deadline) until its 3 iterations are done.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rose.runs import load_run
from rose.testing.slurm import LocalSlurm

HERE = Path(__file__).resolve().parent
ROSE = str(Path(sys.executable).parent / "rose")
SCRIPT = str(HERE / "slurm_chain_campaign.py")


def submit(cluster: LocalSlurm, tmp_path: Path, *args: str, env: dict[str, str] | None = None
           ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ROSE, "submit", *args], cwd=tmp_path, env=env or cluster.env, capture_output=True,
                          text=True, timeout=120)


def chain_of(runs: Path) -> Path:
    [chain] = list((runs / ".chains").glob("*/chain.json"))
    return chain


def wait_for_chain(chain: Path, timeout: float = 150) -> dict[str, object]:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        state = json.loads(chain.read_text())
        if state["state"] in ("done", "failed", "cancelled"):
            return dict(state)
        time.sleep(0.5)
    outputs = "\n".join(p.read_text()[-1500:] for p in chain.parent.glob("slurm-*.out"))
    raise AssertionError(f"the chain did not end within {timeout} s: {chain.read_text()}\n{outputs}")


@pytest.mark.slurm
def test_a_chain_resumes_in_successor_jobs_until_the_campaign_ends(local_slurm: LocalSlurm, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    done = submit(local_slurm, tmp_path, SCRIPT, "--time=1", "--runs-dir", str(runs),
                  "--sbatch-option=--job-name=chain test", "--sbatch-option=--comment=a;b $(c)")
    assert done.returncode == 0, done.stderr
    chain = wait_for_chain(chain_of(runs))
    jobs = chain["jobs"]
    assert isinstance(jobs, list)
    assert [job["exit"] for job in jobs] == [75, 75, 0], chain
    assert chain["state"] == "done"
    ids = [job["job_id"] for job in jobs]
    assert ids == chain["submitted"] and len(set(ids)) == 3
    run = load_run(str(runs / str(chain["campaign"])))
    assert run.iterations == 3
    [history] = run.learners.values()
    assert [state["iteration"] for state in history.iterations] == [0, 1, 2]
    # options reached sbatch verbatim, no shell: the job's name and comment are exactly as given
    shown = subprocess.run(["scontrol", "show", "job", ids[0]], env=local_slurm.env, capture_output=True, text=True)
    assert "JobName=chain test" in shown.stdout and "Comment=a;b $(c)" in shown.stdout, shown.stdout
    listed = subprocess.run([ROSE, "runs", "--root", str(runs)], env=local_slurm.env, capture_output=True, text=True)
    assert " -> ".join(ids) in listed.stdout.replace("\n", " ") or all(i in listed.stdout for i in ids), listed.stdout
    shown_run = subprocess.run([ROSE, "show", str(chain["campaign"]), "--root", str(runs), "--no-plot"],
                               env=local_slurm.env, capture_output=True, text=True)
    assert all(f"job {i}" in shown_run.stdout for i in ids), shown_run.stdout


@pytest.mark.slurm
@pytest.mark.timeout(400)
def test_a_job_ended_at_its_time_limit_is_followed_by_one_that_resumes(local_slurm: LocalSlurm, tmp_path: Path) -> None:
    """Slurm's SIGTERM at the time limit (1 minute) stops the campaign; the successor finishes it."""
    runs = tmp_path / "runs"
    # ROSE_DEADLINE=none: the campaign does not plan against the job's end (which would stop it cleanly before
    # it, exit 75), so that Slurm's own SIGTERM at the time limit ends it
    done = submit(local_slurm, tmp_path, SCRIPT, "--time=1", "--runs-dir", str(runs), "--", "25", "10", "4",
                  env={**local_slurm.env, "ROSE_DEADLINE": "none"})
    assert done.returncode == 0, done.stderr
    chain = wait_for_chain(chain_of(runs), timeout=330)
    jobs = chain["jobs"]
    assert isinstance(jobs, list) and chain["state"] == "done", chain
    # Slurm enforces a time limit within about 30 s after it: 4 iterations of 25 s outlast one job
    assert len(jobs) >= 2 and jobs[0]["exit"] != 0 and jobs[-1]["exit"] == 0, chain
    assert jobs[0]["ended"] - jobs[0]["started"] >= 55, "the first job should have run to its time limit"
    output = "".join(p.read_text() for p in chain_of(runs).parent.glob("slurm-*.out"))
    assert "stopped at the allocation's deadline" in output and "was cancelled" not in output, output
    run = load_run(str(runs / str(chain["campaign"])))
    [history] = run.learners.values()
    assert [state["iteration"] for state in history.iterations] == [0, 1, 2, 3]


@pytest.mark.slurm
def test_a_failing_job_is_resubmitted_a_bounded_number_of_times(local_slurm: LocalSlurm, tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("raise SystemExit(3)\n")
    runs = tmp_path / "runs"
    done = submit(local_slurm, tmp_path, str(broken), "--time=1", "--max-failures", "1", "--runs-dir", str(runs))
    assert done.returncode == 0, done.stderr
    chain_file = chain_of(runs)
    chain = wait_for_chain(chain_file)
    assert chain["state"] == "failed" and [job["exit"] for job in chain["jobs"]] == [3, 3]  # type: ignore[index, union-attr]
    outputs = "".join(p.read_text() for p in sorted(chain_file.parent.glob("slurm-*.out")))
    assert "failure 1 of at most 1 in a row, --max-failures" in outputs, outputs
    assert "giving up after 1 resubmission(s) in a row (--max-failures 1)" in outputs, outputs


@pytest.mark.slurm
def test_two_allocations_of_one_campaign_never_run_at_once(local_slurm: LocalSlurm, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    first = submit(local_slurm, tmp_path, SCRIPT, "--time=2", "--runs-dir", str(runs), "--max-iter", "1", "--", "30")
    assert first.returncode == 0, first.stderr
    end = time.monotonic() + 90
    while not [p for p in runs.glob("2*") if (p / "journal.jsonl").exists()]:
        assert time.monotonic() < end, "the first job never started its campaign"
        time.sleep(0.5)
    [campaign] = [p for p in runs.glob("2*")]
    second = submit(local_slurm, tmp_path, SCRIPT, "--time=2", "--runs-dir", str(runs), "--resume", campaign.name,
                    "--max-failures", "0", "--", "30")
    assert second.returncode == 0, second.stderr
    chains = sorted((runs / ".chains").glob("*/chain.json"))
    late = [c for c in chains if json.loads(c.read_text())["campaign"] == campaign.name][0]
    refused = wait_for_chain(late, timeout=90)
    assert refused["state"] == "failed"
    output = "".join(p.read_text() for p in late.parent.glob("slurm-*.out"))
    assert f"campaign directory {campaign} is in use by" in output, output
    # scancel of the running job stops its chain: no successor is submitted
    holder = next(c for c in chains if c != late)
    subprocess.run(["scancel", json.loads(holder.read_text())["submitted"][0]], env=local_slurm.env, check=True)
    cancelled = wait_for_chain(holder, timeout=60)
    assert cancelled["state"] == "cancelled" and len(cancelled["submitted"]) == 1, cancelled  # type: ignore[arg-type]


def test_submit_errors_before_anything_runs(tmp_path: Path) -> None:
    script = tmp_path / "wf.py"
    script.write_text("print('ran')\n")
    no_slurm = {**os.environ, "PATH": str(tmp_path)}  # no sbatch on PATH
    done = subprocess.run([ROSE, "submit", str(script)], cwd=tmp_path, env=no_slurm, capture_output=True, text=True)
    assert done.returncode == 2 and "sbatch not found on PATH" in done.stderr, done.stderr
    printed = subprocess.run([ROSE, "submit", str(script), "--time=5", "--sbatch-option=--qos=a b", "--print",
                              "--", "--seed", "1"], cwd=tmp_path, env=no_slurm, capture_output=True, text=True)
    assert printed.returncode == 0, printed.stderr
    assert "exec " in printed.stdout and "-m rose.cli.chain" in printed.stdout
    assert "--time=5 '--qos=a b'" in printed.stdout
    assert not (tmp_path / "runs").exists(), "--print must not write or submit anything"
    template = tmp_path / "mine.sbatch"
    template.write_text("#!/bin/bash\n#SBATCH --account=${acount}\nexec ${python} -m rose.cli.chain ${chain_file}\n")
    bad = subprocess.run([ROSE, "submit", str(script), "--template", str(template), "--print"], cwd=tmp_path,
                         env=no_slurm, capture_output=True, text=True)
    assert bad.returncode == 2 and "'acount'" in bad.stderr and "${chain_file}" in bad.stderr, bad.stderr


@pytest.mark.slurm
def test_a_job_slurm_rejects_shows_slurms_words(local_slurm: LocalSlurm, tmp_path: Path) -> None:
    script = tmp_path / "wf.py"
    script.write_text("print('ran')\n")
    done = submit(local_slurm, tmp_path, str(script), "--sbatch-option=--partition=nosuchpartition")
    assert done.returncode == 2
    assert "Slurm rejected the job" in done.stderr and "invalid partition" in done.stderr.lower(), done.stderr
    assert not list((tmp_path / "runs").glob(".chains/*")), "a rejected submission leaves no chain behind"
