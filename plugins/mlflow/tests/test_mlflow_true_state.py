"""MLflow runs end in a true state: every step the journal has, a final status and a stop reason.

Faults are real: the campaign's process kills itself with SIGKILL, and the real writer process is
stopped with SIGSTOP and later resumed with SIGCONT. (A writer killed in the middle of a
campaign is in ``test_mlflow_writer_process.py``.)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

pytestmark = pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:DeprecationWarning")

CAMPAIGN = """
import asyncio, os, signal, sys, time
import rose
from rose.al import SequentialActiveLearner
from rose_plugin_mlflow import MLflowTracker, writer_link

MODE = sys.argv[4]


class SeenTracker(MLflowTracker):
    seen = -1

    def on_iteration(self, state):
        super().on_iteration(state)
        self.seen = state.iteration


def written(tracker, iteration):
    while tracker.seen < iteration:
        time.sleep(0.01)
    assert tracker.flush(120)

async def main():
    async with rose.engine("local") as engine:
        learner = SequentialActiveLearner(engine, run_dir=sys.argv[2])

        @learner.simulation_task(as_executable=False)
        async def simulation(*args, **kwargs):
            return {"labeled": 1}

        @learner.training_task(as_executable=False)
        async def training(*args, **kwargs):
            return {}

        @learner.active_learn_task(as_executable=False)
        async def active_learn(*args, **kwargs):
            return {}

        @learner.as_stop_criterion(metric_name="mean_squared_error_mse", threshold=0.0, as_executable=False)
        async def criterion(*args, **kwargs):
            return 0.5

        # "kill": updates leave once a minute, so the writer has only iteration 0 when the campaign dies
        interval = 60 if MODE == "kill" else 0.25
        tracker = SeenTracker(sys.argv[3], tracking_uri=sys.argv[1], log_artifacts=False,
                              batch_interval=interval, flush_timeout=2)
        learner.add_tracker(tracker)
        async for state in learner.start(max_iter=12):
            if state.iteration == 0:
                await asyncio.to_thread(written, tracker, 0)
                print("RUN", tracker.run_id, writer_link.writer_link().process.pid, flush=True)
                if MODE == "hang":
                    os.kill(writer_link.writer_link().process.pid, signal.SIGSTOP)
            if state.iteration == 3 and MODE == "kill":
                os.kill(os.getpid(), signal.SIGKILL)

asyncio.run(main())
"""


def run_campaign(tmp_path: Any, store: str, experiment: str, mode: str) -> tuple[subprocess.CompletedProcess[str], float]:
    """The campaign, its output captured to the end as a wrapper would: (result, seconds it took)."""
    script = tmp_path / "campaign.py"
    script.write_text(CAMPAIGN)
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "ROSE_RUNS_DIR": os.fspath(tmp_path / "runs")}
    started = time.monotonic()
    result = subprocess.run([sys.executable, os.fspath(script), store, os.fspath(tmp_path / "campaign"), experiment, mode],
                            env=env, capture_output=True, text=True, timeout=300)
    return result, time.monotonic() - started


def finished_run(store: str, run_id: str) -> Any:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(store)
    deadline = time.monotonic() + 120
    while (run := client.get_run(run_id)).info.status == "RUNNING":
        assert time.monotonic() < deadline, "the run is still RUNNING"
        time.sleep(0.2)
    return client, run


def steps(client: Any, run_id: str, key: str) -> list[int]:
    return sorted(m.step for m in client.get_metric_history(run_id, key))


def test_a_campaign_killed_early_leaves_its_run_killed_with_every_journaled_step(tmp_path, experiment):
    """SIGKILL at iteration 3 while iterations 1-3 still wait in the outbox: the writer replays them from the journal."""
    store = "sqlite:///" + os.fspath(tmp_path / "mlflow.db")
    result, _ = run_campaign(tmp_path, store, experiment, "kill")
    assert result.returncode == -signal.SIGKILL, result.stderr
    run_id = result.stdout.split()[1]
    client, run = finished_run(store, run_id)
    assert run.info.status == "KILLED"
    assert run.data.tags["stop_reason"] == "killed"
    assert run.data.tags["final_iteration"] == "3"
    assert steps(client, run_id, "mean_squared_error_mse") == [0, 1, 2, 3]
    assert steps(client, run_id, "labeled") == [0, 1, 2, 3]


def test_a_writer_that_hangs_then_recovers_ends_the_run_as_the_message_says(tmp_path, experiment):
    """SIGSTOP the writer after iteration 0: the campaign ends after flush_timeout, saying the writer goes on
    in the background, and its captured output is complete at once (the writer never holds the campaign's
    stderr). After SIGCONT the writer does go on: the run ends FINISHED with all 12 steps."""
    store = "sqlite:///" + os.fspath(tmp_path / "mlflow.db")
    result, seconds = run_campaign(tmp_path, store, experiment, "hang")
    _, run_id, pid = result.stdout.split()
    try:
        assert result.returncode == 0, result.stderr
        os.kill(int(pid), 0)  # still there, stopped: capture_output returned without waiting for it
        assert seconds < 120, seconds
        log = os.fspath(tmp_path / "mlflow-writer.log")
        assert f"the writer process {pid} goes on writing in the background (its log: {log})" in result.stderr
        assert os.path.isfile(log)
    finally:
        os.kill(int(pid), signal.SIGCONT)
    client, run = finished_run(store, run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["stop_reason"] == "max_iter_reached"
    assert steps(client, run_id, "mean_squared_error_mse") == list(range(12))
