"""Ray, as its documentation teaches: ``ray.init(num_cpus=2)``, remote functions, ``ray.get``."""

from __future__ import annotations

from typing import Any

import ray
from peer_tasks import AL_ITERATIONS, AL_SIMULATIONS, WORKERS, noop, run_true, select, simulate, train_each

VERSION_OF = "ray"


def _start(attempts: int) -> None:
    """``ray.init`` for two CPUs; retried, since Ray gives its raylet a fixed 30 s to register
    with the GCS and a loaded 2-core machine sometimes needs longer."""
    for attempt in range(1, attempts + 1):
        try:
            ray.init(num_cpus=WORKERS, include_dashboard=False, log_to_driver=False)
            return
        except Exception:
            ray.shutdown()
            if attempt == attempts:
                raise


class Ray:
    """A local Ray instance of two CPUs; every task asks for one (Ray's default)."""

    def __init__(self, mode: str) -> None:
        _start(attempts=3)
        self.noop, self.run_true = ray.remote(noop), ray.remote(run_true)
        self.simulate, self.train, self.select = ray.remote(simulate), ray.remote(train_each), ray.remote(select)

    def fan_out(self, n: int) -> Any:
        """N ``.remote()`` calls, then one ``ray.get``."""
        return ray.get([self.noop.remote(i) for i in range(n)])

    def al_loop(self, iterations: int = AL_ITERATIONS) -> list[float]:
        """Object references passed as arguments: Ray resolves the dependencies."""
        inputs = [float(k) for k in range(AL_SIMULATIONS)]
        for _ in range(iterations):
            results = [self.simulate.remote(x) for x in inputs]
            inputs = ray.get(self.select.remote(self.train.remote(*results)))
        return list(inputs)

    def executables(self, n: int) -> Any:
        """N ``/bin/true`` commands, each a task calling ``subprocess``."""
        return ray.get([self.run_true.remote(i) for i in range(n)])

    def close(self) -> None:
        """Shut the local Ray instance down."""
        ray.shutdown()
