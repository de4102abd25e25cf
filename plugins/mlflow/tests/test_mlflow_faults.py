"""Bounded MLflow: a dead or silent server, a stopped writer, a campaign killed while its writer starts.

All faults are real: a closed port, a socket that accepts and never answers, SIGSTOP and SIGKILL.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from rose_plugin_mlflow import MLflowTracker, writer_link
from rose_plugin_mlflow.jobs import http_retry_settings

pytestmark = pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy:DeprecationWarning")


@pytest.fixture
def fresh_writer() -> Iterator[None]:
    writer_link.shutdown()
    yield
    writer_link.shutdown()


@pytest.fixture
def no_user_http_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("MLFLOW_HTTP_REQUEST"):
            monkeypatch.delenv(name)


@pytest.mark.parametrize("budget", [0.5, 1, 3, 6, 10, 30, 60, 300])
def test_mlflow_http_retries_fit_the_budget(budget):
    """Worst case - every attempt times out, then urllib3's backoff sleeps - stays within the budget (1 s at least)."""
    settings = http_retry_settings(budget)
    retries, factor = int(settings["MLFLOW_HTTP_REQUEST_MAX_RETRIES"]), int(settings["MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"])
    timeout = int(settings["MLFLOW_HTTP_REQUEST_TIMEOUT"])
    sleeps = sum(0 if n <= 1 else factor * 2 ** (n - 1) for n in range(1, retries + 1))
    assert settings["MLFLOW_HTTP_REQUEST_BACKOFF_JITTER"] == "0"
    assert timeout >= 1 and (retries + 1) * timeout + sleeps <= max(budget, 1)
    if budget >= 30:
        assert retries >= 3  # a short outage is still ridden out


async def test_mlflow_unreachable_server_delays_the_end_by_the_budget_at_most(
    rose_engine, tmp_path, experiment, al_learner, caplog, no_user_http_settings
):
    """Port 9 refuses connections: with MLflow's own defaults this took 248 s; the default budget is 30 s."""
    learner = al_learner(rose_engine, tmp_path / "refused", [0.5, 0.3])
    tracker = MLflowTracker(experiment, tracking_uri="http://127.0.0.1:9")
    learner.add_tracker(tracker)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="rose_plugin_mlflow"):
        states = [s async for s in learner.start(max_iter=2)]
    elapsed = time.monotonic() - started
    assert [s.iteration for s in states] == [0, 1]
    assert elapsed < 30, elapsed
    assert not tracker.active and tracker.run_id is None
    assert any("starting the MLflow run failed" in r.getMessage() for r in caplog.records)


async def test_mlflow_silent_server_is_given_up_after_a_small_retry_budget(
    rose_engine, tmp_path, experiment, al_learner, caplog, no_user_http_settings
):
    """A server that accepts connections and never answers: the campaign ends after about retry_budget seconds."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        uri = f"http://127.0.0.1:{silent.getsockname()[1]}"
        learner = al_learner(rose_engine, tmp_path / "silent", [0.5, 0.3])
        tracker = MLflowTracker(experiment, tracking_uri=uri, retry_budget=3)
        learner.add_tracker(tracker)
        started = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="rose_plugin_mlflow"):
            await learner.start(max_iter=2)
        elapsed = time.monotonic() - started
    assert 2 <= elapsed < 10, elapsed  # the 3 s budget was used, no more (MLflow's default: 8 x 120 s)
    assert not tracker.active
    (warning,) = [r.getMessage() for r in caplog.records if r.name == "rose_plugin_mlflow"]
    assert uri in warning and "timed out" in warning.lower()


async def test_mlflow_a_stopped_writer_delays_the_end_by_flush_timeout_only(
    rose_engine, tmp_path, mlflow_store, experiment, al_learner, caplog, fresh_writer
):
    """SIGSTOP the writer process: on_stop gives up after flush_timeout, and exit does not wait for it again."""
    learner = al_learner(rose_engine, tmp_path / "stopped-writer", [0.5, 0.3, 0.2])
    tracker = MLflowTracker(experiment, tracking_uri=mlflow_store, flush_timeout=2)
    learner.add_tracker(tracker)
    pid = writer_link.writer_link().process.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="rose_plugin_mlflow"):
            await learner.start(max_iter=3)
        ended = time.monotonic() - started
        writer_link.shutdown(30)  # what runs at interpreter exit
        closed = time.monotonic() - started - ended
    finally:
        os.kill(pid, signal.SIGCONT)
    assert ended < 6, ended
    assert closed < 2, closed
    assert any("did not finish writing within 2 s" in r.getMessage() for r in caplog.records)


KILLED_AT_START = """
import asyncio, os, signal, sys
import rose
from rose.al import SequentialActiveLearner
from rose_plugin_mlflow import writer_link

async def main():
    async with rose.engine("local") as engine:
        learner = SequentialActiveLearner(engine, run_dir=sys.argv[2])

        @learner.simulation_task(as_executable=False)
        async def simulation(*args, **kwargs):
            return {}

        @learner.training_task(as_executable=False)
        async def training(*args, **kwargs):
            return {}

        @learner.active_learn_task(as_executable=False)
        async def active_learn(*args, **kwargs):
            return {}

        @learner.as_stop_criterion(metric_name="mean_squared_error_mse", threshold=0.0, as_executable=False)
        async def criterion(*args, **kwargs):
            return 0.5

        learner.add_tracker(rose.tracker("mlflow", experiment_name=sys.argv[3], tracking_uri=sys.argv[1], batch_interval=0))
        async for state in learner.start(max_iter=100):
            # the Start job is on its way; the writer is still importing MLflow (about 2 s)
            await asyncio.sleep(0.2)
            os.kill(os.getpid(), signal.SIGKILL)

asyncio.run(main())
"""


def test_mlflow_campaign_killed_while_its_writer_starts_leaves_the_run_killed(tmp_path, mlflow_store, experiment):
    from mlflow.tracking import MlflowClient

    script = tmp_path / "campaign.py"
    script.write_text(KILLED_AT_START)
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "ROSE_RUNS_DIR": os.fspath(tmp_path / "runs")}
    result = subprocess.run([sys.executable, os.fspath(script), mlflow_store, os.fspath(tmp_path / "campaign"), experiment],
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == -signal.SIGKILL, result.stderr
    client = MlflowClient(mlflow_store)
    deadline = time.monotonic() + 60
    runs: list[Any] = []
    while time.monotonic() < deadline:
        found = client.get_experiment_by_name(experiment)
        runs = client.search_runs([found.experiment_id]) if found is not None else []
        if runs and all(r.info.status != "RUNNING" for r in runs):
            break
        time.sleep(0.2)
    assert [r.info.status for r in runs] == ["KILLED"], [(r.info.run_id, r.info.status) for r in runs]
    (run,) = runs
    assert run.info.end_time >= run.info.start_time
