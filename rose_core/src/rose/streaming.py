"""Run several learners at once and stream their states as one sequence.

:func:`stream_learners` interleaves the ``IterationState``s of several learners (each
tagged with its ``learner_id``), keeps the others going when one fails (unless
``fail_fast``), and cancels every learner when the consumer stops early. :class:`LearnerRun`
is what ``learner.start(...)`` returns: iterate it with ``async for`` or ``await`` it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Generator, Sequence
from typing import Any

from rose.errors import LearnerFailedError
from rose.state import IterationState

__all__ = ["LearnerRun", "stream_learners"]

logger = logging.getLogger(__name__)


class LearnerRun:
    """``async for state in learner.start(...)`` or ``final = await learner.start(...)``.

    Awaiting runs to the end and returns the final state (a list of final states, one per
    learner, for parallel learners; ``result(value)`` turns it into something else, such as
    the algorithm selector's selection).
    """

    def __init__(
        self,
        factory: Callable[[], AsyncIterator[IterationState]],
        parallel: bool = False,
        result: Callable[[Any], Any] | None = None,
    ) -> None:
        self.factory = factory
        self._parallel = parallel
        self._result = result
        self._used = False
        self._stream: AsyncIterator[IterationState] | None = None

    def _take(self) -> AsyncIterator[IterationState]:
        if self._used:
            raise RuntimeError("this learner run was already consumed; call learner.start(...) again")
        self._used = True
        return self.factory()

    def __aiter__(self) -> AsyncIterator[IterationState]:
        return self._take()

    async def __aenter__(self) -> AsyncIterator[IterationState]:
        """``async with learner.start(...) as states:`` closes the run on exit, at once."""
        self._stream = self._take()
        return self._stream

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop the run now: cancel pending tasks and report ``stopped`` to trackers.

        Needed only when iteration is abandoned outside ``async with``; after a ``break``
        Python closes the run on its own at the next turn of the event loop.
        """
        if self._stream is not None:
            await self._stream.aclose()  # type: ignore[attr-defined]

    def __await__(self) -> Generator[Any, None, Any]:
        return self._consume().__await__()

    async def _consume(self) -> Any:
        finals: dict[Any, IterationState] = {}
        last: IterationState | None = None
        stream = self._take()
        try:
            async for state in stream:
                finals[state.learner_id] = state
                last = state
        except LearnerFailedError as exc:
            exc.results = _ordered(finals)  # type: ignore[attr-defined]
            raise
        finally:
            await stream.aclose()  # type: ignore[attr-defined]
        value: Any = _ordered(finals) if self._parallel else last
        return self._result(value) if self._result is not None else value


def _ordered(finals: dict[Any, IterationState]) -> list[IterationState]:
    try:
        keys = sorted(finals)
    except TypeError:
        keys = list(finals)
    return [finals[k] for k in keys]


async def stream_learners(
    runs: Sequence[tuple[Any, AsyncIterator[IterationState]]],
    *,
    fail_fast: bool = False,
    label: str = "learner",
) -> AsyncIterator[IterationState]:
    """Interleave the states of ``runs`` (``(learner_id, async iterator)`` pairs).

    Each state is re-tagged with its learner id. A learner that raises is logged with its
    id and the others go on; at the end :class:`LearnerFailedError` lists every failure.
    With ``fail_fast=True`` the first failure cancels the others and is raised at once.
    Closing this generator (a ``break`` in the consumer) cancels every learner.
    """
    queue: asyncio.Queue[tuple[str, Any, Any]] = asyncio.Queue(maxsize=max(1, len(runs)))

    async def pump(learner_id: Any, iterator: AsyncIterator[IterationState]) -> None:
        try:
            async for state in iterator:
                if state.learner_id != learner_id:
                    state = state.replace(learner_id=learner_id)
                await queue.put(("state", learner_id, state))
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await iterator.aclose()  # type: ignore[attr-defined]
            raise
        except Exception as exc:  # noqa: BLE001 - reported through the queue
            await queue.put(("error", learner_id, exc))
        else:
            await queue.put(("done", learner_id, None))

    tasks = [asyncio.create_task(pump(lid, it), name=f"rose-{label}-{lid}") for lid, it in runs]
    failures: dict[Any, BaseException] = {}
    remaining = len(tasks)
    try:
        while remaining:
            kind, learner_id, payload = await queue.get()
            if kind == "state":
                yield payload
                continue
            remaining -= 1
            if kind == "error":
                logger.error("[%s-%s] failed with error: %s", label, learner_id, payload)
                failures[learner_id] = payload
                if fail_fast:
                    raise LearnerFailedError(failures) from payload
        if failures:
            raise LearnerFailedError(failures)
    finally:
        pending = [t for t in tasks if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
