"""Parsl, as its documentation teaches: ``python_app``/``bash_app`` on a ``ThreadPoolExecutor``
or a ``HighThroughputExecutor`` with a ``LocalProvider`` (one block of two workers)."""

from __future__ import annotations

import os
from typing import Any

import parsl
from parsl.app.app import bash_app, python_app
from parsl.config import Config
from peer_tasks import AL_ITERATIONS, AL_SIMULATIONS, WORKERS, noop, run_true, select, simulate, train_inputs, true_command

VERSION_OF = "parsl"


class Parsl:
    """Parsl apps; ``mode`` is ``threads`` or ``htex``.

    Logging is left to Python's ``logging`` (``initialize_logging=False``: the DFK's debug
    log file costs time on every task) and monitoring is off (Parsl's default).
    """

    def __init__(self, mode: str) -> None:
        if mode == "threads":
            from parsl.executors import ThreadPoolExecutor

            executor: Any = ThreadPoolExecutor(max_threads=WORKERS, label="threads")
        else:
            from parsl.executors import HighThroughputExecutor
            from parsl.providers import LocalProvider

            executor = HighThroughputExecutor(
                label="htex", address="127.0.0.1", max_workers_per_node=WORKERS, cores_per_worker=1,
                provider=LocalProvider(init_blocks=1, min_blocks=1, max_blocks=1),
            )
        self.dfk = parsl.load(Config(executors=[executor], run_dir=os.path.join(os.getcwd(), "runinfo"),
                                     initialize_logging=False))
        self.noop, self.run_true = python_app(noop), python_app(run_true)
        self.simulate, self.train, self.select = python_app(simulate), python_app(train_inputs), python_app(select)
        self.true_command = bash_app(true_command)

    def fan_out(self, n: int) -> Any:
        """N app calls, then every ``result()``."""
        futures = [self.noop(i) for i in range(n)]
        return [f.result() for f in futures]

    def al_loop(self, iterations: int = AL_ITERATIONS) -> list[float]:
        """App futures passed as ``inputs``/arguments: Parsl resolves the dependencies."""
        inputs = [float(k) for k in range(AL_SIMULATIONS)]
        for _ in range(iterations):
            results = [self.simulate(x) for x in inputs]
            inputs = self.select(self.train(inputs=results)).result()
        return list(inputs)

    def executables(self, n: int) -> Any:
        """N ``bash_app`` calls of ``/bin/true``."""
        futures = [self.true_command(i) for i in range(n)]
        return [f.result() for f in futures]

    def close(self) -> None:
        """Clean the DataFlowKernel up (stops the HTEX interchange and workers)."""
        self.dfk.cleanup()
        parsl.clear()
