"""What a local pilot leaves running after its session closed is ended (real processes).

An agent that failed while it started can leave components behind (``rp.agent_executing``
ignores SIGTERM). They are recognised by ``RP_PILOT_ID`` in their environment and a working
directory inside the pilot's sandbox; nothing else is touched.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from rose_plugin_radical.leftovers import end_pilot_processes, pilot_processes

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc (Linux)")

STUBBORN = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"


def start(cwd: Path, pilot: str) -> subprocess.Popen[bytes]:
    environment = {**os.environ, "RP_PILOT_ID": pilot}
    return subprocess.Popen([sys.executable, "-c", STUBBORN], cwd=cwd, env=environment, start_new_session=True)


def test_only_the_pilots_processes_are_ended_even_when_they_ignore_sigterm(tmp_path: Path) -> None:
    sandbox, other_sandbox = tmp_path / "pilot.0000", tmp_path / "elsewhere"
    (sandbox / "task.000001").mkdir(parents=True)
    other_sandbox.mkdir()
    agent = start(sandbox, "pilot.0000")
    task = start(sandbox / "task.000001", "pilot.0000")
    other_pilot = start(sandbox, "pilot.0001")  # another session's pilot with the same folder name
    outside = start(other_sandbox, "pilot.0000")  # the same pilot id, another sandbox
    try:
        assert sorted(pilot_processes("pilot.0000", str(sandbox))) == sorted([agent.pid, task.pid])
        ended = end_pilot_processes("pilot.0000", str(sandbox), wait=0.2, grace=0.3)
        assert sorted(ended) == sorted([agent.pid, task.pid])
        assert agent.wait(5) == -9 and task.wait(5) == -9  # SIGTERM was ignored: SIGKILL
        assert other_pilot.poll() is None and outside.poll() is None
        assert pilot_processes("pilot.0000", str(sandbox)) == []
    finally:
        for process in (agent, task, other_pilot, outside):
            process.kill()
            process.wait()


def test_a_pilot_that_stops_by_itself_within_the_wait_is_left_alone(tmp_path: Path) -> None:
    process = subprocess.Popen(["sleep", "0.3"], cwd=tmp_path, env={**os.environ, "RP_PILOT_ID": "pilot.0000"})
    try:
        assert end_pilot_processes("pilot.0000", str(tmp_path), wait=5.0) == []
        assert process.wait(1) == 0  # it ended on its own, not by a signal
    finally:
        process.kill()
        process.wait()
