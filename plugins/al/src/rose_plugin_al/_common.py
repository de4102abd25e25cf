"""Helpers shared by the learners of this plugin (validation, sub-learners, merged streams)."""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeVar

from rose.config import check_learner_config as check_config
from rose.errors import LearnerFailedError
from rose.learner import Learner
from rose.state import IterationState
from rose.streaming import stream_learners

__all__ = [
    "ParallelManifestMixin",
    "adopt_tasks",
    "check_config",
    "combined_stop_reason",
    "check_required_tasks",
    "gather_or_cancel",
    "learner_dir",
    "merged_campaign",
    "safe_dirname",
]

logger = logging.getLogger("rose_plugin_al")
_T = TypeVar("_T")


class ParallelManifestMixin:
    """For learners that run sub-learners: one directory per campaign.

    When the learner made up its own run directory, every ``start()`` after the first one
    gets a fresh directory, so a second campaign never finds the first one's files in its
    learners' working directories (a ``run_dir`` given by the user is always used as is).
    """

    _run_dir: str | None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._campaigns = 0
        self._own_run_dir = self._run_dir is None

    def _begin_campaign(self) -> None:
        """Called when a campaign starts: pick its run directory."""
        if self._campaigns and self._own_run_dir:
            self._run_dir = None
        self._campaigns += 1


def combined_stop_reason(reasons: Iterable[str | None]) -> str:
    """The parent's stop reason from its sub-learners' reasons."""
    known = [reason for reason in reasons if reason]
    if known and all(reason == "criterion_met" for reason in known):
        return "criterion_met"
    if "stopped" in known:
        return "stopped"
    return "max_iter_reached"


def check_required_tasks(learner: Learner, kinds: Iterable[str], *, skip_simulation_step: bool = False) -> None:
    """The learner's task kinds, plus a simulation task unless ``skip_simulation_step``."""
    learner.check_tasks(list(kinds))
    if not skip_simulation_step and not learner.has_task("simulation"):
        raise ValueError(
            f"{type(learner).__name__} needs a simulation task (@learner.simulation_task) unless "
            f"start(skip_simulation_step=True) is used with a pool of existing simulations"
        )


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_dirname(name: Any) -> str:
    """A directory name derived from a learner or algorithm name (``algo 1/x`` -> ``algo_1_x``)."""
    text = _UNSAFE.sub("_", str(name)).strip("._") or "unnamed"
    return text


def learner_dir(parent: Learner, prefix: str, learner_id: Any) -> str:
    """Create and return ``<parent.run_dir>/<prefix>-<id>``: a sub-learner's own directory."""
    path = os.path.join(parent.run_dir, f"{prefix}-{safe_dirname(learner_id)}")
    os.makedirs(path, exist_ok=True)
    return path


def adopt_tasks(child: Learner, parent: Learner, *, learner_id: Any, directory: str) -> None:
    """Give ``child`` the parent's engine setup, task specs and criterion, and its own directory.

    The task specs are immutable descriptions, so sharing them is safe; the ``tasks`` dict
    is copied so that a child never changes what its siblings run. Executable tasks of the
    child run with ``directory`` as their working directory, so parallel learners never
    write the same file.
    """
    child.inherit(parent, learner_id=learner_id, task_cwd=directory)


async def gather_or_cancel(awaitables: Sequence[Awaitable[_T]]) -> list[_T]:
    """Like ``asyncio.gather``, but the first failure cancels (and awaits) the others."""
    tasks = [asyncio.ensure_future(item) for item in awaitables]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


async def _tolerant(
    stream: AsyncIterator[IterationState],
    tolerate: Callable[[LearnerFailedError], bool] | None,
    on_end: Callable[[], None] | None,
) -> AsyncIterator[IterationState]:
    try:
        async for state in stream:
            yield state
    except LearnerFailedError as exc:
        if tolerate is None or not tolerate(exc):
            raise
    finally:
        if on_end is not None:
            on_end()
        await stream.aclose()  # type: ignore[attr-defined]


async def merged_campaign(
    parent: Learner,
    runs: Sequence[tuple[Any, AsyncIterator[IterationState]]],
    *,
    fail_fast: bool,
    label: str,
    max_iter: int,
    tolerate: Callable[[LearnerFailedError], bool] | None = None,
    on_state: Callable[[IterationState], None] | None = None,
    on_end: Callable[[], None] | None = None,
    **manifest: Any,
) -> AsyncIterator[IterationState]:
    """The parent's campaign over the interleaved states of several sub-learners.

    The parent's trackers and journal see every state (tagged with its learner id); its
    manifest carries ``manifest`` (``parallel_count``, ``learner_configs``...). Closing
    this generator (a ``break`` in the consumer) first cancels every sub-learner's pending
    task, then reports ``stopped`` to the parent's trackers. ``tolerate(error)`` may
    accept a :class:`LearnerFailedError` at the end of the stream (the failures were
    logged with their ids) instead of ending the campaign with ``error``. ``on_end()`` runs
    when the sub-learners are done (to set the parent's stop reason).
    """
    stream = _tolerant(stream_learners(runs, fail_fast=fail_fast, label=label), tolerate, on_end)
    campaign = parent.run_campaign(stream, max_iter=max_iter, **manifest)
    try:
        async for state in campaign:
            parent._iteration_state = state
            if on_state is not None:
                on_state(state)
            yield state
    finally:
        # order matters: cancel the learners' pending tasks, then tell the trackers why
        await stream.aclose()  # type: ignore[attr-defined]
        await campaign.aclose()  # type: ignore[attr-defined]
