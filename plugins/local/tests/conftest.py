"""Fixtures for rose-plugin-local's tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary directory as the current directory, with ``ROSE_RUNS_DIR`` inside it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ROSE_RUNS_DIR", str(tmp_path / "runs"))
    return tmp_path
