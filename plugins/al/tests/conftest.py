"""Fixtures for rose-plugin-al: a real ``local`` engine (rose-plugin-local) in a temporary directory."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

# `rose.engine` (the function) is shadowed by the `rose.engine` submodule once that is imported
from rose.engine import engine as make_engine

SCRIPTS = Path(__file__).parent / "scripts"
# helpers_al.py sits next to this file; --import-mode=importlib does not put it on sys.path
if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
async def al_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Any]:
    """``await rose.engine("local")`` working in ``tmp_path``; campaigns go to ``tmp_path/runs``.

    The local backend honours each task's working directory, which the parallel learners
    use to give every learner its own directory.
    """
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ROSE_RUNS_DIR", os.fspath(tmp_path / "runs"))
    engine = await make_engine("local", work_dir=os.fspath(tmp_path / "engine"))
    try:
        yield engine
    finally:
        await engine.shutdown()


@pytest.fixture
def scripts(tmp_path: Path) -> Path:
    """The recording task scripts copied into ``tmp_path/scripts``."""
    target = tmp_path / "scripts"
    shutil.copytree(SCRIPTS, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target
