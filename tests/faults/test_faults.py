"""Fault injection: real campaigns in subprocesses, each fault injected for real.

Every case asserts that the campaign completes or stops with the documented error, that
no finished iteration is lost or run again, and that no task process is left behind.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

from rose.journal import read_journal

HERE = Path(__file__).resolve().parent


class Campaign:
    """One fault campaign: its directory, logs and driver process."""

    def __init__(self, tmp: Path, **options: object) -> None:
        self.tmp = tmp
        self.run_dir = tmp / "run"
        self.log = tmp / "tasks.log"
        self.tracking = tmp / "tracking.jsonl"
        self.marker = f"rose-fault-{uuid.uuid4().hex}"
        self.options = options
        self.process: subprocess.Popen[str] | None = None

    def argv(self, **extra: object) -> list[str]:
        argv = [sys.executable, str(HERE / "fault_campaign.py"), "--run-dir", str(self.run_dir), "--log", str(self.log),
                "--tracking", str(self.tracking), "--marker", self.marker]
        for key, value in {**self.options, **extra}.items():
            flag = "--" + key.replace("_", "-")
            if value is True:
                argv.append(flag)
            elif value is not None and value is not False:
                argv += [flag, str(value)]
        return argv

    def start(self, **extra: object) -> subprocess.Popen[str]:
        env = {**os.environ, "ROSE_RUNS_DIR": str(self.tmp / "runs")}
        self.process = subprocess.Popen(self.argv(**extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                        env=env, cwd=self.tmp, start_new_session=True)
        return self.process

    def run(self, timeout: float = 120, **extra: object) -> subprocess.CompletedProcess[str]:
        process = self.start(**extra)
        out, err = process.communicate(timeout=timeout)
        return subprocess.CompletedProcess(process.args, process.returncode, out, err)

    def records(self) -> list[dict]:
        return list(read_journal(str(self.run_dir)))

    def finished_iterations(self) -> list[int]:
        return [r["state"]["iteration"] for r in self.records() if r["type"] == "iteration"]

    def task_runs(self) -> Counter[tuple[str, int]]:
        lines = self.log.read_text().split("\n") if self.log.exists() else []
        return Counter((kind, int(i)) for kind, i, _pid in (line.split() for line in lines if line.strip()))

    def wait_for_iterations(self, count: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (self.run_dir / "journal.jsonl").exists() and len(self.finished_iterations()) >= count:
                return
            time.sleep(0.05)
        raise AssertionError(f"the campaign did not finish {count} iterations in {timeout} s")

    def orphans(self) -> list[str]:
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if self.marker in cmdline and "fault_task.py" in cmdline:
                found.append(f"{entry.name}: {cmdline}")
        return found

    def wait_no_orphans(self, timeout: float = 10) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.orphans():
            time.sleep(0.1)
        return self.orphans()

    def stop_reasons(self) -> list[str]:
        lines = self.tracking.read_text().splitlines() if self.tracking.exists() else []
        return [event["reason"] for event in map(json.loads, lines) if event["event"] == "stop"]


def test_sigkill_mid_iteration_then_resume_loses_and_redoes_nothing(tmp_path: Path) -> None:
    campaign = Campaign(tmp_path, max_iter=6, sleep=0.3)
    process = campaign.start()
    campaign.wait_for_iterations(2)
    os.killpg(process.pid, signal.SIGKILL)  # the node dies: driver and its tasks
    process.wait(timeout=10)
    before = campaign.finished_iterations()
    runs_before = campaign.task_runs()
    assert before == list(range(len(before))) and len(before) >= 2

    result = campaign.run(resume=True)
    assert result.returncode == 0, result.stderr
    assert campaign.finished_iterations() == list(range(6)), "each iteration recorded exactly once"
    runs = campaign.task_runs()
    for iteration in before:  # finished iterations were not run again
        assert runs[("active_learn", iteration)] == runs_before[("active_learn", iteration)] == 1
        assert runs[("criterion", iteration)] == 1
    for iteration in range(len(before), 6):
        assert runs[("criterion", iteration)] == 1
    assert campaign.records()[-1]["reason"] == "max_iter_reached"
    assert campaign.wait_no_orphans() == []


def test_truncated_last_journal_line_is_tolerated_on_resume(tmp_path: Path) -> None:
    campaign = Campaign(tmp_path, max_iter=3)
    assert campaign.run().returncode == 0
    with open(campaign.run_dir / "journal.jsonl", "a") as journal:
        journal.write('{"type": "iteration", "learner_id": null, "sta')  # the write cut off by the crash
    result = campaign.run(max_iter=5, resume=True)
    assert result.returncode == 0, result.stderr
    assert campaign.finished_iterations() == [0, 1, 2, 3, 4]
    assert campaign.task_runs()[("criterion", 1)] == 1


def test_sigterm_stops_cleanly_records_the_interruption_and_exits_non_zero(tmp_path: Path) -> None:
    campaign = Campaign(tmp_path, max_iter=50, sleep=0.5)
    process = campaign.start()
    campaign.wait_for_iterations(1)
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=30)
    assert process.returncode != 0
    kinds = [r["type"] for r in campaign.records()]
    assert "interrupted" in kinds and kinds[-1] == "stop"
    assert campaign.records()[-1]["reason"] == "stopped"
    assert campaign.stop_reasons() == ["stopped"]
    assert campaign.wait_no_orphans() == []


def test_ctrl_c_to_the_process_group_stops_cleanly_and_trackers_get_stopped(tmp_path: Path) -> None:
    """A terminal's Ctrl-C: SIGINT to the campaign, its tasks and any helper process at once."""
    campaign = Campaign(tmp_path, max_iter=50, sleep=0.5)
    process = campaign.start()
    campaign.wait_for_iterations(1)
    os.killpg(process.pid, signal.SIGINT)
    process.communicate(timeout=30)
    assert process.returncode != 0
    assert campaign.records()[-1]["type"] == "stop" and campaign.records()[-1]["reason"] == "stopped"
    assert campaign.stop_reasons() == ["stopped"]
    assert campaign.wait_no_orphans() == []


def test_a_task_killed_by_a_signal_is_a_clear_error(tmp_path: Path) -> None:
    campaign = Campaign(tmp_path, max_iter=4, kill_at=1)
    result = campaign.run()
    assert result.returncode != 0
    assert "TaskFailedError" in result.stderr and "task 'simulation'" in result.stderr
    assert "exit code: -9" in result.stderr and "fault_task.py simulation --iteration 1" in result.stderr
    assert campaign.finished_iterations() == [0]
    assert campaign.records()[-1]["reason"] == "error" and campaign.stop_reasons() == ["error"]


def test_a_hanging_task_times_out_and_leaves_no_process(tmp_path: Path) -> None:
    campaign = Campaign(tmp_path, max_iter=4, hang_at=1, timeout=2)
    started = time.monotonic()
    result = campaign.run()
    assert time.monotonic() - started < 30
    assert result.returncode != 0
    assert "TaskTimeoutError" in result.stderr and "timeout=2" in result.stderr
    assert campaign.finished_iterations() == [0]
    assert campaign.wait_no_orphans() == []


def test_a_flaky_task_succeeds_on_retry_and_the_retry_is_journaled(tmp_path: Path) -> None:
    campaign = Campaign(tmp_path, max_iter=2, flaky=True)
    result = campaign.run()
    assert result.returncode == 0, result.stderr
    attempts = [(r["iteration"], r["attempt"], r["status"]) for r in campaign.records()
                if r["type"] == "task" and r["task"] == "training"]
    assert (0, 1, "failed") in attempts and (0, 2, "done") in attempts
    assert campaign.finished_iterations() == [0, 1]


def test_an_unwritable_journal_fails_before_any_task_runs(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the campaign directory should go")
    campaign = Campaign(tmp_path, max_iter=2)
    campaign.run_dir = blocker / "run"
    result = campaign.run()
    assert result.returncode != 0
    assert "cannot write the campaign journal" in result.stderr and str(blocker) in result.stderr
    assert campaign.task_runs() == Counter()


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full to simulate a full disk")
def test_a_disk_full_at_start_is_an_error_before_any_task_runs(tmp_path: Path) -> None:
    campaign = Campaign(tmp_path, max_iter=3)
    campaign.run_dir.mkdir()
    (campaign.run_dir / "journal.jsonl").symlink_to("/dev/full")
    result = campaign.run()
    assert result.returncode != 0
    assert "cannot write the campaign journal" in result.stderr and "No space left on device" in result.stderr
    assert campaign.task_runs() == Counter()


@pytest.mark.parametrize("kill_after", [0.25, 0.7, 1.2])
def test_parallel_experience_killed_anywhere_resumes_with_each_experience_once(tmp_path: Path, kill_after: float) -> None:
    """kill -9 at some moment of an iteration, then resume: the merged bank holds every finished
    environment's experience exactly once (3 environments x 5 experiences per iteration)."""
    from rose_plugin_rl.experience import ExperienceBank

    run_dir = tmp_path / "run"
    argv = [sys.executable, str(HERE / "experience_campaign.py"), "--run-dir", str(run_dir), "--max-iter", "4"]
    env = {**os.environ, "ROSE_RUNS_DIR": str(tmp_path / "runs")}
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path,
                               start_new_session=True)
    deadline = time.monotonic() + 60
    while not (run_dir / "journal.jsonl").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(kill_after)  # from the campaign's start: somewhere in iteration 0, 1 or 2
    os.killpg(process.pid, signal.SIGKILL)
    process.communicate(timeout=30)
    finished_before = [r["state"]["iteration"] for r in read_journal(str(run_dir)) if r["type"] == "iteration"]
    assert len(finished_before) < 4, "the kill came after the campaign had finished"
    result = subprocess.run([*argv, "--resume"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    records = list(read_journal(str(run_dir)))
    iterations = [r["state"]["iteration"] for r in records if r["type"] == "iteration"]
    assert iterations == list(range(4)), (finished_before, iterations)
    bank = ExperienceBank.load(str(run_dir / "work" / "experience_bank.npz"))
    assert len(bank) == 4 * 3 * 5
    sizes = [r["state"]["state"]["bank_size"] for r in records if r["type"] == "iteration"]
    assert sizes == [15, 30, 45, 60]
    done = Counter((r["iteration"], r["task"]) for r in records if r["type"] == "task" and r["status"] == "done")
    assert all(count == 1 for count in done.values()), done


def test_sighup_stops_like_sigterm(tmp_path: Path) -> None:
    """A closed terminal or SSH session: the stop is recorded, trackers are told, no task is left."""
    campaign = Campaign(tmp_path, max_iter=50, sleep=0.5)
    process = campaign.start()
    campaign.wait_for_iterations(1)
    process.send_signal(signal.SIGHUP)
    process.communicate(timeout=30)
    assert process.returncode != 0
    assert campaign.records()[-1]["type"] == "stop" and campaign.records()[-1]["reason"] == "stopped"
    assert campaign.stop_reasons() == ["stopped"]
    assert campaign.wait_no_orphans() == []
