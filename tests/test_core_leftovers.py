"""rose.leftovers: a resume ends only the task processes of a dead campaign, and only under the lock."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from rose.journal import Journal, ResumePoint
from rose.processes import owner_record, process_start_time, reap_leftovers


def task_process() -> subprocess.Popen[bytes]:
    """A command task as a backend starts it: in its own process group."""
    return subprocess.Popen(["sleep", "60"], start_new_session=True)


def record_of(process: subprocess.Popen[bytes], **owner: object) -> dict[str, object]:
    return {"type": "process", "iteration": 1, "task": "simulation", "key": "", "pid": process.pid,
            "pgid": process.pid, "start_time": process_start_time(process.pid), **owner}


def ended(process: subprocess.Popen[bytes]) -> bool:
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        return False
    return True


@pytest.fixture
def locked_journal(tmp_path: Path):
    journal = Journal(str(tmp_path))
    journal.open()
    yield journal
    journal.close()


def test_the_task_of_a_dead_campaign_is_ended(tmp_path: Path, locked_journal: Journal) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()  # the campaign process that started the task: gone (killed -9)
    task = task_process()
    try:
        point = ResumePoint(str(tmp_path), [record_of(task, host=os.uname().nodename, owner=dead.pid, owner_start=1)])
        assert [r["pid"] for r in reap_leftovers(point.processes, locked_journal)] == [task.pid]
        assert ended(task)
    finally:
        task.kill()


def test_a_task_whose_campaign_process_still_lives_is_left_alone(tmp_path: Path, locked_journal: Journal) -> None:
    campaign = subprocess.Popen(["sleep", "60"])  # another live campaign process owns the task
    task = task_process()
    try:
        owner = {"host": os.uname().nodename, "owner": campaign.pid, "owner_start": process_start_time(campaign.pid)}
        point = ResumePoint(str(tmp_path), [record_of(task, **owner)])
        assert reap_leftovers(point.processes, locked_journal) == []
        assert task.poll() is None
    finally:
        task.kill()
        campaign.kill()


def test_a_task_of_another_host_or_a_reused_process_id_is_left_alone(tmp_path: Path, locked_journal: Journal) -> None:
    task = task_process()
    try:
        elsewhere = record_of(task, host="another-node", owner=1, owner_start=1)
        reused = {**record_of(task), "start_time": (process_start_time(task.pid) or 0) + 1}
        assert reap_leftovers([elsewhere, reused], locked_journal) == []
        assert task.poll() is None
    finally:
        task.kill()


def test_reaping_needs_the_lock(tmp_path: Path) -> None:
    task = task_process()
    try:
        point = ResumePoint(str(tmp_path), [record_of(task, **owner_record())])
        with pytest.raises(RuntimeError, match="lock"):
            reap_leftovers(point.processes, Journal(str(tmp_path)))  # not opened: no lock
        time.sleep(0.05)
        assert task.poll() is None
    finally:
        task.kill()
