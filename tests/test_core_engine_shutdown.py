"""A task submitted to an engine that is shutting down fails at once, naming itself (it used to
wait forever: the engine had already cancelled the tasks it knew, and the backend it then shut
down no longer reported on new ones). Real local engine, real commands and function tasks."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import rose
from rose.errors import EngineClosedError
from rose.learner import Learner


@pytest.mark.parametrize("as_executable", [True, False], ids=["command", "function"])
async def test_a_task_submitted_during_or_after_the_shutdown_fails_at_once(tmp_path: Path, as_executable: bool) -> None:
    engine = await rose.engine("local", work_dir=str(tmp_path / "engine"), max_workers=1)
    learner = Learner(engine, run_dir=tmp_path / "run")

    @learner.training_task(as_executable=as_executable)
    async def late(i: int) -> object:
        return ["echo", str(i)] if as_executable else i

    assert str(await late(0)).strip() == "0"
    closing = asyncio.ensure_future(engine.shutdown())
    await asyncio.sleep(0)  # the shutdown has begun: it cancelled what it knew and waits
    during = asyncio.ensure_future(late(1))
    await closing
    with pytest.raises(EngineClosedError, match="'training'.*rose.engine"):
        await asyncio.wait_for(during, 5)
    with pytest.raises(EngineClosedError, match="'training'"):
        await asyncio.wait_for(late(2), 5)
