"""Fixtures for the rose-plugin-rl tests: a real engine that runs tasks in given directories."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import pytest


@pytest.fixture
async def rl_engine(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Any]:
    """A WorkflowEngine on the ``local`` backend, working in the test's temporary directory.

    ParallelExperience and ParallelReinforcementLearner place tasks in their own working
    directories, which ``rose.testing``'s thread backend cannot do; ``local`` can.
    """
    # rose.engine(...) would do, but importing the rose.engine submodule rebinds the name
    # rose.engine to the module, so call the function from the module itself
    from rose.engine import engine as make_engine
    from rose.plugins import registry

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ROSE_RUNS_DIR", os.fspath(tmp_path / "runs"))
    if "local" not in registry().backends:
        pytest.skip("rose-plugin-local is not installed: these tests run tasks on the 'local' backend")
    engine = await make_engine("local")
    try:
        yield engine
    finally:
        await engine.shutdown()
