"""SIGTERM (a batch system's preemption) or SIGHUP (a closed terminal) to a plain ``python workflow.py``:
the campaign stops cleanly, says so in one line and exits with the signal's status, no traceback."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from rose.journal import read_journal

HERE = Path(__file__).resolve().parent


@pytest.mark.parametrize(("sig", "name"), [(signal.SIGTERM, "SIGTERM"), (signal.SIGHUP, "SIGHUP")])
def test_a_signal_stops_the_campaign_with_one_line_and_its_exit_status(tmp_path: Path, sig: int, name: str) -> None:
    run_dir = tmp_path / "run"
    argv = [sys.executable, str(HERE / "fault_campaign.py"), "--run-dir", str(run_dir), "--log", str(tmp_path / "log"),
            "--tracking", str(tmp_path / "tracking.jsonl"), "--marker", f"rose-signal-{uuid.uuid4().hex}",
            "--max-iter", "50", "--sleep", "0.3"]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None and not any(
            r["type"] == "iteration" for r in (read_journal(str(run_dir)) if (run_dir / "journal.jsonl").exists() else [])
        ):
            time.sleep(0.05)
        process.send_signal(sig)
        _out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 128 + sig, err
    assert "Traceback" not in err and "CancelledError" not in err, err
    assert f"stopped by {name}" in err and str(run_dir) in err
    records = list(read_journal(str(run_dir)))
    assert records[-1]["type"] == "stop" and records[-1]["reason"] == "stopped"
