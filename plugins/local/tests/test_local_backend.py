"""The ``local`` backend beyond the contract: slots, GPUs, process groups, translation."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import pytest
from radical.asyncflow import WorkflowEngine
from rose_plugin_local import LocalBackend, translate

from rose.engine import backend_spec_for, restore_default_signals
from rose.engine import engine as make_engine
from rose.errors import ResourceError
from rose.learner import Learner
from rose.records import Resources
from rose.testing.backend import processes_running, unique_sleep, wait_until


def overlap_probe(lock: Path, seconds: float = 0.3) -> list[str]:
    """A command that fails (exit 9) if another probe holds ``lock`` at the same time."""
    return ["sh", "-c", f'mkdir "{lock}" 2>/dev/null || exit 9; sleep {seconds}; rmdir "{lock}"']


async def test_defaults_to_one_worker_per_core(workdir: Path) -> None:
    async with make_engine("local", work_dir=str(workdir)) as engine:
        assert isinstance(engine.backend, LocalBackend)
        assert engine.backend.max_workers == os.cpu_count()


async def test_max_workers_bounds_concurrent_commands(workdir: Path) -> None:
    async with make_engine("local", work_dir=str(workdir), max_workers=1) as engine:
        learner = Learner(engine, run_dir=workdir / "run")

        @learner.training_task
        async def probe() -> list[str]:
            return overlap_probe(workdir / "lock")

        started = time.monotonic()
        assert await asyncio.gather(probe(), probe(), probe()) == ["", "", ""]
        assert time.monotonic() - started >= 0.85  # one at a time


async def test_a_task_asking_for_all_cores_runs_alone(workdir: Path) -> None:
    async with make_engine("local", work_dir=str(workdir), max_workers=2) as engine:
        learner = Learner(engine, run_dir=workdir / "run")

        @learner.training_task(resources={"cores": 2})
        async def wide() -> list[str]:
            return overlap_probe(workdir / "lock")

        @learner.training_task
        async def narrow() -> list[str]:
            return overlap_probe(workdir / "lock")

        assert await asyncio.gather(wide(), narrow()) == ["", ""]
        assert await asyncio.gather(narrow(), wide()) == ["", ""]
        # two one-core tasks do share the two cores (so the probe would see an overlap)
        results = await asyncio.gather(narrow(), narrow(), return_exceptions=True)
        assert any(isinstance(r, Exception) and "exit code: 9" in str(r) for r in results)


async def test_cancel_kills_the_whole_process_group(workdir: Path) -> None:
    """Grandchildren (a shell's background jobs) die with the task."""
    inner, outer = unique_sleep(), unique_sleep()
    async with make_engine("local", work_dir=str(workdir)) as engine:
        learner = Learner(engine, run_dir=workdir / "run")

        @learner.training_task
        async def tree() -> list[str]:
            return ["sh", "-c", f"sleep {inner} & sleep {outer}; wait"]

        running = asyncio.ensure_future(tree())
        assert await wait_until(lambda: processes_running(inner) and processes_running(outer), 10)
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
        assert await wait_until(lambda: not processes_running(inner) and not processes_running(outer), 10)


async def test_sigterm_ignored_means_sigkill_after_grace(workdir: Path) -> None:
    marker = unique_sleep()
    async with make_engine("local", work_dir=str(workdir), kill_grace=0.3) as engine:
        learner = Learner(engine, run_dir=workdir / "run")

        @learner.training_task(timeout=1.0)
        async def stubborn() -> list[str]:
            return ["sh", "-c", f"trap '' TERM; sleep {marker}; echo survived"]

        with pytest.raises(TimeoutError):
            await stubborn()
        assert await wait_until(lambda: not processes_running(marker), 5)


async def test_gpus_are_handed_out_through_cuda_visible_devices(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    async with make_engine("local", work_dir=str(workdir)) as engine:
        learner = Learner(engine, run_dir=workdir / "run")

        @learner.training_task(resources={"gpus": 1})
        async def train() -> list[str]:
            return ["sh", "-c", 'echo "$CUDA_VISIBLE_DEVICES"; sleep 0.2']

        @learner.training_task(resources={"gpus": 2})
        async def predict() -> list[str]:
            return ["sh", "-c", 'echo "$CUDA_VISIBLE_DEVICES"']

        first, second, both = await asyncio.gather(train(), train(), predict())
        assert sorted([first.strip(), second.strip()]) == ["3", "5"]
        assert sorted(both.strip().split(",")) == ["3", "5"]


def test_translate_names_task_request_and_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ResourceError, match=r"task 'training'.*ranks=4.*'local'.*radical") as info:
        translate("training", Resources(ranks=4), False)
    assert info.value.task == "training" and info.value.backend == "local"

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    with pytest.raises(ResourceError, match=r"gpus=1, but 0 GPU"):
        translate("training", Resources(gpus=1), False)
    with pytest.raises(ResourceError, match="cores="):
        translate("simulation", Resources(cores=(os.cpu_count() or 1) + 1), False)
    with pytest.raises(ResourceError, match="memory_mb="):
        translate("simulation", Resources(memory_mb=10**9), False)

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    description = translate("training", Resources(gpus=1, env={"A": "1"}, cwd="rel"), False)
    assert description["shell"] is False and description["gpus"] == 1
    assert description["cwd"] == os.path.abspath("rel")
    assert description["env"]["A"] == "1" and description["env"]["PATH"] == os.environ["PATH"]


async def test_plain_asyncflow_tasks_run_without_a_shell(workdir: Path) -> None:
    """asyncflow's own default is a shell (quoting lost); this backend defaults to argv."""
    async with make_engine("local", work_dir=str(workdir)) as engine:

        async def command() -> str:
            return "echo 'a;b'"

        assert await engine.executable_task(command)() == "a;b\n"


async def test_capture_stdio_writes_files_in_the_engine_folder(workdir: Path) -> None:
    async with make_engine("local", work_dir=str(workdir)) as engine:
        learner = Learner(engine, run_dir=workdir / "run")

        @learner.training_task(capture_stdio=True)
        async def noisy() -> list[str]:
            return ["sh", "-c", "echo out; echo err >&2"]

        path = await noisy()
        assert Path(path).read_text() == "out\n"
        assert Path(path).parent == Path(engine.work_dir) / engine.uid
        assert Path(path).with_suffix(".stderr").read_text() == "err\n"


async def test_bad_cwd_is_reported(workdir: Path) -> None:
    async with make_engine("local", work_dir=str(workdir)) as engine:
        learner = Learner(engine, run_dir=workdir / "run")

        @learner.training_task(resources={"cwd": str(workdir / "missing")})
        async def lost() -> str:
            return "true"

        with pytest.raises(Exception, match="working directory .*missing.* does not exist"):
            await lost()


async def test_process_executor_runs_functions_in_another_process(workdir: Path) -> None:
    async with make_engine("local", work_dir=str(workdir), executor="process", max_workers=1) as engine:
        learner = Learner(engine, run_dir=workdir / "run")

        @learner.training_task(as_executable=False)
        async def whoami() -> int:
            return os.getpid()

        assert await whoami() != os.getpid()

        @learner.training_task(as_executable=False)
        async def fit(model: Any) -> int:
            return 1

        import threading

        with pytest.raises(TypeError, match=r"function task 'training' runs in a worker process .*argument 1 \(lock\)"
                           r".*executor='thread'"):
            await fit(threading.Lock())


def test_invalid_options_are_explained() -> None:
    with pytest.raises(ValueError, match="executor must be 'thread' or 'process'"):
        LocalBackend(executor="gpu")
    with pytest.raises(ValueError, match="max_workers must be >= 1"):
        LocalBackend(max_workers=0)


async def test_rhapsody_concurrent_backend_is_recognised_as_local(workdir: Path) -> None:
    """ROSE 0.3's examples build engines from rhapsody's backend; they get local's translator."""
    from concurrent.futures import ThreadPoolExecutor

    from rhapsody.backends import ConcurrentExecutionBackend

    backend: Any = await ConcurrentExecutionBackend(ThreadPoolExecutor(2))
    engine = await WorkflowEngine.create(backend=backend, work_dir=str(workdir))
    restore_default_signals()
    try:
        spec = backend_spec_for(engine)
        assert spec is not None and spec.name == "local"
        learner = Learner(engine, run_dir=workdir / "run")

        @learner.training_task(resources={"env": {"X": "42"}})
        async def show() -> list[str]:
            return ["sh", "-c", 'echo "$X a;b"']

        assert await show() == "42 a;b\n"
    finally:
        await engine.shutdown()


CAMPAIGN = """
import asyncio, sys
from rose.engine import engine as make_engine
from rose.learner import Learner

async def main():
    async with make_engine("local") as engine:
        learner = Learner(engine)

        @learner.simulation_task
        async def simulate():
            return ["sh", "-c", "sleep {marker} & sleep {marker}; wait"]

        print("started", flush=True)
        await simulate()

asyncio.run(main())
"""


@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGTERM"])
async def test_ctrl_c_and_sigterm_stop_the_campaign_and_its_commands(
    workdir: Path, signal_name: str
) -> None:
    """Ctrl-C (or a batch system's SIGTERM) ends the script; no command outlives it."""
    import signal
    import sys

    marker = unique_sleep()
    script = workdir / "campaign.py"
    script.write_text(CAMPAIGN.format(marker=marker))
    child = await asyncio.create_subprocess_exec(
        sys.executable, str(script), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        assert await wait_until(lambda: len(processes_running(marker)) == 2, 20), "the campaign never started"
        child.send_signal(getattr(signal, signal_name))
        _, stderr = await asyncio.wait_for(child.communicate(), 20)
    finally:
        if child.returncode is None:
            child.kill()
            await child.wait()
    assert child.returncode != 0
    assert await wait_until(lambda: not processes_running(marker), 5), processes_running(marker)
    if signal_name == "SIGINT":
        assert b"KeyboardInterrupt" in stderr
