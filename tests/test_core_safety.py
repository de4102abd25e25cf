"""Safe records and clear errors: secrets masked, names checked, one campaign per directory, a
journal that cannot be written stops the campaign, bad task options named."""

from __future__ import annotations

import errno
import json
from pathlib import Path
from typing import Any

import pytest

from rose import LearnerConfig
from rose.campaign import Outcome, Step
from rose.errors import JournalError, RoseError
from rose.journal import read_journal
from rose.learner import Learner
from rose.streaming import LearnerRun
from rose.testing import PluginSandbox, RecordingTracker


class Loop(Learner):
    required_tasks = ("simulation",)

    def start(self, max_iter: int = 0, **options: Any) -> LearnerRun:  # type: ignore[override]
        return super().start(max_iter, **options)

    async def evaluate(self, step: Step) -> Outcome:
        return Outcome(carry=await step.run("simulation"))


SECRETS = {"env": {"API_TOKEN": "s3cret-value", "OMP": "4"}, "record_env": ["OMP"]}


def loop(engine: Any, *, resources: Any = None, **options: Any) -> Loop:
    learner = Loop(engine, **options)

    @learner.simulation_task(as_executable=False, resources=resources)
    async def simulation(*args: Any) -> dict[str, int]:
        return {"n": 1}

    return learner


async def test_secrets_in_task_env_are_masked_in_every_record(tmp_path: Path) -> None:
    import rose
    from rose.errors import ResourceError

    async with rose.engine("local") as engine:
        learner = loop(engine, run_dir=tmp_path / "run", resources=SECRETS)
        tracker = RecordingTracker()
        learner.add_tracker(tracker)
        learner.add_tracker(rose.tracker("jsonl", path=str(tmp_path / "events.jsonl")))
        await learner.start(max_iter=2)
    written = (tmp_path / "run" / "journal.jsonl").read_text() + (tmp_path / "events.jsonl").read_text()
    written += json.dumps(tracker.manifest.to_dict())
    assert "s3cret-value" not in written
    assert '"API_TOKEN": "***"' in written and '"OMP": "4"' in written
    error = ResourceError("simulation", learner.tasks["simulation"].resources, "local", "for the test")
    assert "s3cret-value" not in str(error) and "API_TOKEN" in str(error)


def test_names_that_escape_or_collide_are_errors() -> None:
    from rose.al import AlgorithmSelector, ParallelActiveLearner
    from rose.rl import ParallelExperience

    with pytest.raises(RoseError, match=r"learner name '\.\./\.\./x' would put files outside"):
        ParallelActiveLearner(object(), name="../../x")
    selector = AlgorithmSelector(object())
    for name in ("x/y", "x_y"):
        with pytest.raises(RoseError, match="would put files outside") if "/" in name else _nothing():
            selector.active_learn_task(name=name, as_executable=False)(_noop)
    pe = ParallelExperience(object())
    pe.environment_task(name="env 1", as_executable=False)(_noop)
    pe.environment_task(name="env_1", as_executable=False)(_noop)
    pe.update_task(as_executable=False)(_noop)
    with pytest.raises(RoseError, match="environments 'env 1' and 'env_1' would share the directory or file 'env_1'"):
        pe.start(max_iter=1)
    with pytest.raises(ValueError, match="task name 'env_1' is already used"):
        pe.environment_task(name="env_1", as_executable=False)(_noop)


async def _noop(*args: Any) -> None:
    return None


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


async def test_one_campaign_per_directory(rose_plugins: PluginSandbox, rose_engine: Any, tmp_path: Path) -> None:
    first, second = loop(rose_engine, run_dir=tmp_path / "run"), loop(rose_engine, run_dir=tmp_path / "run")
    async with first.start(max_iter=3) as states:
        async for _state in states:
            with pytest.raises(RoseError, match=r"is in use by process \d+ on .*one campaign \(or resume\)"):
                second.start(max_iter=3).__aiter__()
            break
    assert [s.iteration async for s in second.start(max_iter=1)] == [0]  # free again afterwards


async def test_a_journal_write_failure_mid_run_stops_cleanly_and_can_resume(
    rose_plugins: PluginSandbox, rose_engine: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENOSPC after the start (injected: a full disk cannot be produced portably mid-run)."""
    from rose import journal

    learner = loop(rose_engine, run_dir=tmp_path / "run")
    real_write = journal.Journal.write
    writes = {"n": 0}

    def failing(self: Any, record_type: str, /, **fields: Any) -> None:
        writes["n"] += 1
        if writes["n"] == 6:
            raise JournalError(self.path, OSError(errno.ENOSPC, "No space left on device"))
        real_write(self, record_type, **fields)

    monkeypatch.setattr(journal.Journal, "write", failing)
    with pytest.raises(JournalError, match="No space left on device.*then resume"):
        await learner.start(max_iter=5)
    monkeypatch.setattr(journal.Journal, "write", real_write)
    done = [r["state"]["iteration"] for r in read_journal(str(tmp_path / "run")) if r["type"] == "iteration"]
    resumed = loop(rose_engine)
    states = [s.iteration async for s in resumed.start(max_iter=5, resume=tmp_path / "run")]
    assert states == list(range(len(done), 5))


@pytest.mark.parametrize(("option", "value", "error"), [
    ("timeout", "10", "timeout must be a number of seconds such as timeout=10, got '10'"),
    ("retry_backoff", "x", "retry_backoff must be a number of seconds"),
    ("retries", 1.7, "retries must be a whole number >= 0"),
    ("timeout", 0, "timeout must be a positive number of seconds"),
])
def test_bad_task_options_name_the_task_and_the_fix(option: str, value: Any, error: str) -> None:
    learner = Loop(object())
    with pytest.raises((TypeError, ValueError), match=f"simulation task 'sim': {error}"):
        learner.simulation_task(**{option: value})(sim)


async def sim(*args: Any) -> None:
    return None


def test_learner_config_is_checked_at_start() -> None:
    learner = loop(object())
    with pytest.raises(TypeError, match="initial_config must be a LearnerConfig or None"):
        learner.start(max_iter=1, initial_config={"simulation": {}})  # type: ignore[arg-type]
    assert isinstance(LearnerConfig(), LearnerConfig)


async def test_task_description_shell_means_shell_and_other_keys_are_errors(tmp_path: Path) -> None:
    import rose

    learner = Loop(object())
    with pytest.raises(TypeError, match=r"task_description key\(s\) \['cpu_processes'\] are not passed"):
        learner.simulation_task(task_description={"cpu_processes": 2})(sim)
    async with rose.engine("local") as engine:
        shelled = Loop(engine, run_dir=tmp_path / "run")

        @shelled.simulation_task(task_description={"shell": True})
        async def both(*args: Any) -> str:
            return "echo a && echo b"

        assert shelled.tasks["simulation"].shell
        assert (await both()).split() == ["a", "b"]
    assert learner.get_max_iterations() is None


PARALLEL_UNDER_A_FILE_LIMIT = """
import asyncio, resource, sys
import rose
from rose.al import ParallelActiveLearner

resource.setrlimit(resource.RLIMIT_NOFILE, (int(sys.argv[1]), resource.getrlimit(resource.RLIMIT_NOFILE)[1]))

async def main():
    async with rose.engine("local") as engine:
        learner = ParallelActiveLearner(engine)

        @learner.simulation_task(as_executable=False)
        async def simulation(*args): return None

        @learner.training_task(as_executable=False)
        async def training(*args): return None

        @learner.active_learn_task(as_executable=False)
        async def active_learn(*args): return None

        @learner.as_stop_criterion(metric_name="mean_squared_error_mse", threshold=0.0, as_executable=False)
        async def criterion(*args): return 1.0

        await learner.start(parallel_learners=int(sys.argv[2]), max_iter=1)

asyncio.run(main())
"""


@pytest.mark.parametrize("learners, limit, fits", [(120, 256, True), (400, 256, False)])
def test_each_parallel_learner_keeps_one_file_open_and_running_out_is_explained(
    tmp_path: Path, learners: int, limit: int, fits: bool
) -> None:
    """A real limit on open files (setrlimit), not a mock: 120 learners fit in 256 files (they
    took three each before; now one, plus two for as many as a quarter of the limit allows),
    400 do not, and the error says which limit and how to raise it."""
    import os
    import subprocess
    import sys

    script = tmp_path / "campaign.py"
    script.write_text(PARALLEL_UNDER_A_FILE_LIMIT, encoding="utf-8")
    env = {**os.environ, "ROSE_RUNS_DIR": str(tmp_path / "runs")}
    proc = subprocess.run([sys.executable, str(script), str(limit), str(learners)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    if fits:
        assert proc.returncode == 0, proc.stderr[-3000:]
        (run,) = (d for d in (tmp_path / "runs").iterdir() if not d.name.startswith("."))
        children = [d for d in run.iterdir() if d.is_dir() and d.name.startswith("learner-")]
        assert len(children) == learners
        for child in children:  # some kept their summary and curve open, the others opened them per record
            assert not (child / ".rose.lock").exists()
            summary = [json.loads(line)["type"] for line in (child / "iterations.jsonl").read_text().splitlines()]
            assert summary == ["start", "iteration", "stop"], (child, summary)
            assert len((child / "curve.jsonl").read_text().splitlines()) == 3
        assert (run / ".rose.lock").exists()  # the campaign's own lock covers its learners
    else:
        assert proc.returncode != 0
        assert "Too many open files" in proc.stderr and "ulimit -n" in proc.stderr, proc.stderr[-3000:]
        assert f"keep {limit} files open" in proc.stderr
