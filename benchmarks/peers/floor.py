"""The floor: a plain ``concurrent.futures.ThreadPoolExecutor`` of two threads, no framework."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from peer_tasks import AL_ITERATIONS, AL_SIMULATIONS, WORKERS, noop, run_true, select, simulate, train

VERSION_OF = "python"


class Floor:
    """``pool.map`` for many tasks, ``submit().result()`` for one."""

    def __init__(self, mode: str) -> None:
        self.pool = ThreadPoolExecutor(WORKERS)

    def fan_out(self, n: int) -> Any:
        """N no-op tasks."""
        return list(self.pool.map(noop, range(n)))

    def al_loop(self, iterations: int = AL_ITERATIONS) -> list[float]:
        """The AL loop: simulations at once, then training, then selection."""
        inputs = [float(k) for k in range(AL_SIMULATIONS)]
        for _ in range(iterations):
            results = list(self.pool.map(simulate, inputs))
            model = self.pool.submit(train, results).result()
            inputs = self.pool.submit(select, model).result()
        return inputs

    def executables(self, n: int) -> Any:
        """N ``/bin/true`` commands."""
        return list(self.pool.map(run_true, range(n)))

    def close(self) -> None:
        """Stop the threads."""
        self.pool.shutdown()
