"""The MLflow writer process: slow MLflow, a writer that dies, a campaign that is killed or interrupted.

Faults are real: processes are killed with signals, and a slow MLflow is made by a module
that the writer process imports first (its command line is wrapped; the writer runs isolated,
``python -I``, so ``PYTHONPATH`` cannot reach it) and that delays ``MlflowClient.log_batch``.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from typing import Any

import pytest
from rose_plugin_mlflow import MLflowTracker, writer_link

pytestmark = pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:DeprecationWarning")


@pytest.fixture
def fresh_writer() -> Iterator[None]:
    """The test starts its own writer process, and the next test does not inherit it."""
    writer_link.shutdown()
    yield
    writer_link.shutdown()


def inject_into_writer(monkeypatch: pytest.MonkeyPatch, tmp_path: Any, code: str) -> None:
    """Run ``code`` when the next writer process starts, before it serves (the fault to inject)."""
    directory = tmp_path / "inject"
    directory.mkdir()
    (directory / "rose_test_fault.py").write_text(textwrap.dedent(code))
    original = writer_link.writer_command

    def with_fault(package_root: str) -> list[str]:
        command = original(package_root)
        index = command.index("-c") + 1
        command[index] = f"import sys; sys.path.insert(0, {os.fspath(directory)!r}); import rose_test_fault\n" + command[index]
        return command

    monkeypatch.setattr(writer_link, "writer_command", with_fault)


class SeenTracker(MLflowTracker):
    """An MLflowTracker that says which iteration it was last given (tracker calls arrive in batches)."""

    seen = -1

    def on_iteration(self, state: Any) -> None:
        super().on_iteration(state)
        self.seen = state.iteration


def client_for(uri: str) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(uri)


def wait_for(predicate: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"not true within {timeout} s")


async def test_slow_mlflow_never_blocks_the_loop_and_loses_nothing(
    rose_engine, tmp_path, mlflow_store, experiment, al_learner, metric_history, monkeypatch, fresh_writer
):
    """Every MLflow write takes 0.25 s and only 2 updates may wait: the loop runs ahead, nothing is lost."""
    inject_into_writer(monkeypatch, tmp_path, """
        import time
        from mlflow.tracking import MlflowClient

        original = MlflowClient.log_batch

        def slow_log_batch(self, *args, **kwargs):
            time.sleep(0.25)
            return original(self, *args, **kwargs)

        MlflowClient.log_batch = slow_log_batch
    """)
    values = [1.0 / (i + 1) for i in range(20)]
    learner = al_learner(rose_engine, tmp_path / "slow", values)
    tracker = MLflowTracker(experiment, tracking_uri=mlflow_store, queue_size=2, log_artifacts=False, batch_interval=0)
    learner.add_tracker(tracker)
    started = time.monotonic()
    last_state_at = 0.0
    async for _ in learner.start(max_iter=20):
        last_state_at = time.monotonic() - started
    finished_at = time.monotonic() - started
    # the loop finished before MLflow wrote even its parameters (0.25 s per write);
    # the end of the campaign waited for MLflow to catch up
    assert last_state_at < 0.25 < finished_at - last_state_at, (last_state_at, finished_at)
    client = client_for(mlflow_store)
    assert metric_history(client, tracker.run_id, "mean_squared_error_mse") == list(enumerate(values))
    assert client.get_run(tracker.run_id).info.status == "FINISHED"


async def test_a_writer_killed_mid_campaign_leaves_a_true_run_and_the_next_campaign_gets_a_new_one(
    rose_engine, tmp_path, mlflow_store, experiment, al_learner, metric_history, caplog, fresh_writer
):
    """SIGKILL the writer after 15 of 24 iterations: the campaign goes on; at its end a new writer ends
    the run KILLED with a stop reason and every one of the 24 steps (replayed from the journal)."""
    import asyncio

    learner = al_learner(rose_engine, tmp_path / "doomed", [0.5] * 24)
    tracker = SeenTracker(experiment, tracking_uri=mlflow_store, log_artifacts=False)
    learner.add_tracker(tracker)
    iterations = []
    with caplog.at_level(logging.WARNING, logger="rose_plugin_mlflow"):
        async for state in learner.start(max_iter=24):
            iterations.append(state.iteration)
            if state.iteration == 14:
                await asyncio.to_thread(wait_for, lambda: tracker.seen == 14, 60)
                pid = writer_link.writer_link().process.pid
                os.kill(pid, signal.SIGKILL)
                await asyncio.to_thread(wait_for, lambda: not tracker.active, 30)
    assert iterations == list(range(24))  # the campaign went on
    warnings = [r.getMessage() for r in caplog.records if "ended unexpectedly" in r.getMessage()]
    assert len(warnings) == 1 and f"writer process {pid}" in warnings[0] and "exit code -9" in warnings[0], warnings
    assert "mlflow-writer.log" in warnings[0]
    client = client_for(mlflow_store)
    run = client.get_run(tracker.run_id)
    assert run.info.status == "KILLED"
    assert run.data.tags["stop_reason"] == "max_iter_reached"
    assert f"writer process {pid} ended (exit code -9)" in run.data.tags["rose.writer_lost"]
    assert metric_history(client, tracker.run_id, "mean_squared_error_mse") == [(i, 0.5) for i in range(24)]
    assert [s for s, _ in metric_history(client, tracker.run_id, "labeled_count")] == list(range(24))

    again = al_learner(rose_engine, tmp_path / "next", [0.5, 0.001])
    tracker = MLflowTracker(experiment, tracking_uri=mlflow_store, log_artifacts=False)
    again.add_tracker(tracker)
    await again.start(max_iter=5)
    assert writer_link.writer_link().process.pid != pid
    assert client.get_run(tracker.run_id).info.status == "FINISHED"
    assert metric_history(client, tracker.run_id, "mean_squared_error_mse") == [(0, 0.5), (1, 0.001)]


CAMPAIGN = """
import asyncio, signal, sys, time
import rose

# Ctrl-C as a terminal delivers it, even when the tests were started in the background of a
# script (a shell without job control starts those with SIGINT ignored, and a child inherits that)
signal.signal(signal.SIGINT, signal.default_int_handler)
from rose.al import SequentialActiveLearner
from rose_plugin_mlflow import MLflowTracker


class SeenTracker(MLflowTracker):
    seen = -1

    def on_iteration(self, state):
        super().on_iteration(state)
        self.seen = state.iteration


def wait_until_seen(tracker, iteration):
    while tracker.seen < iteration:
        time.sleep(0.01)
    tracker.flush(60)

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

        tracker = SeenTracker(sys.argv[3], tracking_uri=sys.argv[1], log_artifacts=False)
        learner.add_tracker(tracker)
        async for state in learner.start(max_iter=1000):
            if state.iteration == 3:
                await asyncio.to_thread(wait_until_seen, tracker, 3)
                print("RUN", tracker.run_id, flush=True)
                await asyncio.sleep(3600)

asyncio.run(main())
"""


def start_campaign(tmp_path: Any, mlflow_store: str, experiment: str) -> tuple[subprocess.Popen[str], str]:
    """A campaign in its own process group, stopped at iteration 3 with everything written: (process, run id)."""
    script = tmp_path / "campaign.py"
    script.write_text(CAMPAIGN)
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "ROSE_RUNS_DIR": os.fspath(tmp_path / "runs")}
    process = subprocess.Popen(
        [sys.executable, os.fspath(script), mlflow_store, os.fspath(tmp_path / "campaign"), experiment],
        stdout=subprocess.PIPE, text=True, env=env, start_new_session=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith("RUN "), line
    return process, line.split()[1]


def test_a_killed_campaign_leaves_its_run_killed_with_everything_it_sent(tmp_path, mlflow_store, experiment, metric_history):
    process, run_id = start_campaign(tmp_path, mlflow_store, experiment)
    process.kill()  # SIGKILL: no on_stop; the writer process sees its pipe close
    process.wait(30)
    client = client_for(mlflow_store)
    run = wait_for(lambda: (r := client.get_run(run_id)).info.status != "RUNNING" and r)
    assert run.info.status == "KILLED"
    assert metric_history(client, run_id, "mean_squared_error_mse") == [(0, 0.5), (1, 0.5), (2, 0.5), (3, 0.5)]


def test_ctrl_c_reaches_the_whole_process_group_and_the_run_still_records_stopped(tmp_path, mlflow_store, experiment):
    process, run_id = start_campaign(tmp_path, mlflow_store, experiment)
    os.killpg(process.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the writer process gets it too
    process.wait(60)
    run = client_for(mlflow_store).get_run(run_id)
    assert run.data.tags["stop_reason"] == "stopped"
    assert run.info.status == "FINISHED"
    assert run.data.tags["final_iteration"] == "3"
