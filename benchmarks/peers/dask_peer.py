"""Dask, as its documentation teaches: ``dask.delayed`` on the threaded scheduler, and
futures (``Client.map`` / ``Client.submit``) on a ``LocalCluster`` of two worker processes."""

from __future__ import annotations

from typing import Any

import dask
from dask import delayed
from peer_tasks import AL_ITERATIONS, AL_SIMULATIONS, WORKERS, noop, run_true, select, simulate, train

VERSION_OF = "distributed"


class DaskThreads:
    """The local threaded scheduler with two workers: ``dask.compute`` of delayed calls."""

    def __init__(self, mode: str) -> None:
        self.options = {"scheduler": "threads", "num_workers": WORKERS}

    def fan_out(self, n: int) -> Any:
        """N no-op tasks in one graph."""
        return dask.compute(*[delayed(noop)(i) for i in range(n)], **self.options)

    def al_loop(self, iterations: int = AL_ITERATIONS) -> list[float]:
        """One graph per iteration (the next depends on this one's selection)."""
        inputs = [float(k) for k in range(AL_SIMULATIONS)]
        for _ in range(iterations):
            results = [delayed(simulate)(x) for x in inputs]
            (inputs,) = dask.compute(delayed(select)(delayed(train)(results)), **self.options)
        return list(inputs)

    def executables(self, n: int) -> Any:
        """N ``/bin/true`` commands, each a task calling ``subprocess``."""
        return dask.compute(*[delayed(run_true)(i) for i in range(n)], **self.options)

    def close(self) -> None:
        """Nothing to stop."""


class DaskDistributed:
    """A ``LocalCluster`` of two single-threaded worker processes and a ``Client``."""

    def __init__(self, mode: str) -> None:
        from distributed import Client, LocalCluster

        self.cluster = LocalCluster(n_workers=WORKERS, threads_per_worker=1, processes=True,
                                    dashboard_address=None)
        self.client = Client(self.cluster)

    def fan_out(self, n: int) -> Any:
        """``Client.map`` over N inputs, then ``gather``."""
        return self.client.gather(self.client.map(noop, range(n), pure=False))

    def al_loop(self, iterations: int = AL_ITERATIONS) -> list[float]:
        """Futures passed as arguments: the scheduler resolves the dependencies."""
        inputs = [float(k) for k in range(AL_SIMULATIONS)]
        for _ in range(iterations):
            results = self.client.map(simulate, inputs, pure=False)
            model = self.client.submit(train, results, pure=False)
            inputs = self.client.submit(select, model, pure=False).result()
        return list(inputs)

    def executables(self, n: int) -> Any:
        """N ``/bin/true`` commands, each a task calling ``subprocess``."""
        return self.client.gather(self.client.map(run_true, range(n), pure=False))

    def close(self) -> None:
        """Close the client and the cluster."""
        self.client.close()
        self.cluster.close()
