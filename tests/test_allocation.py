"""rose.allocation: the journal's allocation records, read back as a campaign's chain of jobs."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from rose.allocation import allocation_chain, allocation_record, batch_jobs_during, describe_jobs, write_batch_job
from rose.testing.slurm import LocalSlurm


def test_allocation_records_read_back_as_a_chain_ending_at_each_stop() -> None:
    records = [
        {"type": "start", "time": 1.0},
        {"type": "allocation", "time": 1.0, "job_id": "41", "scheduler": "slurm", "started": 0.5, "deadline": 60.5,
         "deadline_source": "slurm"},
        {"type": "iteration", "time": 20.0},
        {"type": "stop", "time": 50.0, "reason": "deadline"},
        {"type": "resume", "time": 70.0},
        {"type": "allocation", "time": 70.0, "job_id": "42", "scheduler": "slurm", "started": 69.0, "deadline": None,
         "deadline_source": None},
        {"type": "allocation", "time": 140.0, "job_id": "43", "scheduler": "slurm", "started": 139.0,
         "deadline": 199.0, "deadline_source": "user"},
        {"type": "stop", "time": 150.0, "reason": "criterion_met"},
    ]
    chain = allocation_chain(records)
    assert [(job["job_id"], job["stop"]) for job in chain] == [("41", "deadline"), ("42", None), ("43", "criterion_met")]
    assert chain[0]["deadline"] == 60.5 and chain[2]["deadline_source"] == "user"
    assert describe_jobs(chain) == "job 41 (deadline) -> job 42 (running or killed) -> job 43 (criterion_met)"


def test_outside_a_batch_job_there_is_no_allocation_record() -> None:
    assert allocation_record({"PATH": "/usr/bin"}) is None


def test_batch_jobs_are_matched_to_the_campaign_they_overlap(tmp_path: Path) -> None:
    write_batch_job({"backend": "radical", "name": "pilot.0000", "job_id": "7", "submitted": 100.0, "started": 110.0,
                     "ended": 200.0}, tmp_path)
    write_batch_job({"backend": "radical", "name": "pilot.0001", "job_id": "8", "submitted": 300.0, "started": None,
                     "ended": None}, tmp_path)
    assert [job["job_id"] for job in batch_jobs_during(120.0, 190.0, tmp_path)] == ["7"]
    assert [job["job_id"] for job in batch_jobs_during(250.0, None, tmp_path)] == ["8"]
    assert batch_jobs_during(None, None, tmp_path) == []


@pytest.mark.slurm
def test_inside_a_slurm_job_the_record_names_the_job_and_its_end(local_slurm: LocalSlurm, tmp_path: Path) -> None:
    out = tmp_path / "record.json"
    code = "import json; from rose.allocation import allocation_record; print(json.dumps(allocation_record()))"
    job_id = local_slurm.submit("--time=1", f"--output={out}", "--wrap", f"{sys.executable} -c '{code}'")
    end = time.monotonic() + 60
    while local_slurm.job_state(job_id) and time.monotonic() < end:
        time.sleep(0.3)
    record = json.loads(out.read_text().strip().splitlines()[-1])
    assert record["type"] == "allocation" and record["job_id"] == job_id and record["scheduler"] == "slurm"
    assert record["deadline_source"] == "slurm"
    assert 55 <= record["deadline"] - record["started"] <= 65, record  # --time=1: one minute
