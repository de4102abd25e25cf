"""The backend's cores as a counting pool: taken at once, awaited, or granted to a callback (FIFO)."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Callable

__all__ = ["Slots"]


class _Grant:
    """A waiter that is a callback, not a future: ``set_result`` calls it (in the turn that frees the slots)."""

    __slots__ = ("callback", "withdrawn")

    def __init__(self, callback: Callable[[], None]) -> None:
        self.callback = callback
        self.withdrawn = False

    def done(self) -> bool:
        return self.withdrawn

    def set_result(self, _value: None) -> None:
        self.withdrawn = True
        self.callback()


class Slots:
    """A counting pool of ``total`` slots, handed out first come, first served.

    :meth:`take_now` takes slots if they are free and nobody waits; :meth:`take` waits for
    them (a context manager); :meth:`take_later` calls a function once they are granted,
    from the call of :meth:`give_back` that freed them, with no coroutine waiting. A request
    for more than ``total`` is served as ``total`` (the task runs alone).
    """

    def __init__(self, total: int) -> None:
        self.total = total
        self.free = total
        self._waiters: deque[tuple[int, asyncio.Future[None] | _Grant]] = deque()
        self._granting = False

    @contextlib.asynccontextmanager
    async def take(self, n: int) -> AsyncIterator[None]:
        """Wait until ``n`` slots are free and ours; give them back on leaving."""
        n = max(1, min(n, self.total))
        if self._waiters or self.free < n:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append((n, waiter))
            try:
                await waiter
            except BaseException:
                if (n, waiter) in self._waiters:
                    self._waiters.remove((n, waiter))
                    self._release(0)  # those queued behind it may fit now
                elif waiter.done() and not waiter.cancelled():
                    self._release(n)  # granted while we were being cancelled
                raise
        else:
            self.free -= n
        try:
            yield
        finally:
            self._release(n)

    def take_now(self, n: int) -> int:
        """Take ``n`` slots if they are free and nobody waits: how many were taken (0: none;
        give them back with :meth:`give_back`). No waiting, no context manager."""
        n = max(1, min(n, self.total))
        if self._waiters or self.free < n:
            return 0
        self.free -= n
        return n

    def take_later(self, n: int, granted: Callable[[int], None]) -> Callable[[], None]:
        """Queue for ``n`` slots; ``granted(taken)`` is called once they are taken for the caller.

        It is called from the :meth:`give_back` (or withdrawal) that frees them, and must not
        raise. Returns ``withdraw()``, which leaves the queue (nothing if already granted).
        """
        n = max(1, min(n, self.total))
        grant = _Grant(lambda: granted(n))
        self._waiters.append((n, grant))

        def withdraw() -> None:
            if not grant.withdrawn:
                grant.withdrawn = True
                self._release(0)  # a withdrawn request at the head must not hold up those behind it

        return withdraw

    def give_back(self, n: int) -> None:
        """Return ``n`` slots taken with :meth:`take_now` or granted through :meth:`take_later`."""
        self._release(n)

    def _release(self, n: int) -> None:
        self.free += n
        if self._granting:  # a grant's callback gave slots back: the loop below goes on with them
            return
        self._granting = True
        try:
            while self._waiters:
                wanted, waiter = self._waiters[0]
                if waiter.done():  # cancelled or withdrawn
                    self._waiters.popleft()
                    continue
                if wanted > self.free:
                    break
                self._waiters.popleft()
                self.free -= wanted
                waiter.set_result(None)
        finally:
            self._granting = False
