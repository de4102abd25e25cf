"""Clear messages for the inputs of issue 27, item 9: each names the input and the way out."""

from __future__ import annotations

import errno
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from rose.cli import main
from rose.records import Resources

HERE = Path(__file__).parent


@pytest.mark.parametrize(("resources", "words"), [
    ({"cores": "2"}, ["resources['cores']", "'2' (str)", "resources={'cores': 2}"]),
    ({"gpus": 1.5}, ["resources['gpus']", "1.5 (float)"]),
    ({"memory_mb": "lots"}, ["resources['memory_mb']", "'lots' (str)"]),
])
def test_a_resource_of_the_wrong_type_names_the_key(resources: dict[str, object], words: list[str]) -> None:
    with pytest.raises(TypeError) as raised:
        Resources.coerce(resources)
    for word in words:
        assert word in str(raised.value)
    with pytest.raises(ValueError, match=r"resources\['cores'\] must be >= 1, got 0"):
        Resources.coerce({"cores": 0})


def test_rose_run_of_a_yaml_file_says_it_runs_python_scripts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "campaign.yaml").write_text("learner: SequentialActiveLearner\nmax_iter: 3\n")
    assert main(["run", "campaign.yaml"]) == 2
    err = capsys.readouterr().err
    assert "campaign.yaml is a .yaml file, not a Python script" in err and "(a .py file)" in err
    (tmp_path / "workflow").write_text("#!/usr/bin/env python3\nprint('ran')\n")
    assert main(["run", "workflow"]) == 0  # a script without extension but with a Python #! line runs
    assert "ran" in capsys.readouterr().out


def test_an_unknown_log_level_is_an_error_listing_the_levels(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["--log-level", "verbose", "plugins"])
    assert stopped.value.code == 2
    assert "unknown level 'verbose'; use one of DEBUG, INFO, WARNING, ERROR, CRITICAL" in capsys.readouterr().err


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A scratch directory every user can reach (pytest's tmp_path is 0700 to root)."""
    path = Path(tempfile.mkdtemp(prefix="rose-ro-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_a_read_only_runs_dir_is_an_error_with_its_path_and_a_hint(open_dir: Path) -> None:
    readonly = open_dir / "readonly"
    readonly.mkdir()
    readonly.chmod(0o555)
    shutil.copy(HERE / "io_campaign.py", open_dir / "io_campaign.py")
    (open_dir / "io_campaign.py").chmod(0o644)
    argv = [sys.executable, "-m", "rose", "run", "io_campaign.py", "--", "--iterations", "1"]
    if os.geteuid() == 0:  # root writes into a 0555 directory: run as nobody, for whom it is read-only
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: cannot make a directory read-only for the campaign")
        argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *argv]
    env = {**os.environ, "ROSE_RUNS_DIR": str(readonly / "runs"), "HOME": str(open_dir)}
    result = subprocess.run(argv, capture_output=True, text=True, cwd=open_dir, env=env, timeout=120)
    assert result.returncode != 0
    assert f"cannot write the folder of campaigns {readonly / 'runs'}: Permission denied" in result.stderr
    assert "read-only for this user" in result.stderr and "ROSE_RUNS_DIR" in result.stderr
    assert not stat.S_IMODE(readonly.stat().st_mode) & 0o200


async def test_a_disk_that_fills_mid_run_is_an_error_with_the_path_and_a_hint(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk cannot be produced here without mount rights (no small tmpfs): the fault is
    injected through a mock of ``os.write``, for the files of the campaign's results only,
    from the second iteration on. Everything else is real: engine, tasks, journal."""
    import rose
    from rose.al import SequentialActiveLearner
    from rose.errors import JournalError
    from rose.journal import read_journal

    run_dir = tmp_path / "run"
    real_write = os.write
    iterations: list[int] = []

    def write(fd: int, data: bytes) -> int:
        target = os.readlink(f"/proc/self/fd/{fd}") if os.path.exists(f"/proc/self/fd/{fd}") else ""
        if iterations and target.startswith(str(run_dir / "results")):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)
    async with rose.engine("local", max_workers=2) as engine:
        learner = SequentialActiveLearner(engine, name="full", run_dir=str(run_dir))

        @learner.simulation_task(as_executable=False)
        async def simulate(*upstream: object) -> None:
            return None

        @learner.training_task(as_executable=False)
        async def train(*upstream: object) -> dict[str, str]:
            return {"model": f"{len(iterations)}" * 100_000}

        @learner.active_learn_task(as_executable=False)
        async def select(*upstream: object) -> None:
            return None

        with pytest.raises(JournalError) as raised:
            async for state in learner.start(max_iter=4):
                iterations.append(state.iteration)
    message = str(raised.value)
    assert f"{run_dir / 'results'}" in message and "No space left on device" in message
    assert "the disk (or your quota) is full: free disk space" in message and "resume" in message
    assert iterations == [0]
    assert [r["reason"] for r in read_journal(str(run_dir)) if r["type"] == "stop"] == ["error"]
