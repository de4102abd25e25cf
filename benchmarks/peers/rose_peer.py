"""ROSE, as its documentation teaches: a policy on the public API (``Learner`` with
``prepare``/``evaluate``) whose tasks are registered with the task decorators, on the
``local``, ``dask`` or ``radical`` backend built by ``rose.engine``.

Each workload is one campaign: ``await learner.start(max_iter=...)``. The fan-out and the
executables are one iteration that runs N simulation tasks at once; the AL loop is 20
iterations of 4 simulations, a training and a selection (``active_learn``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from peer_tasks import AL_ITERATIONS, AL_SIMULATIONS, TRUE, WORKERS, noop, select, simulate, train

from rose import Learner, Outcome, Step

VERSION_OF = "rose-core"

ENGINE_OPTIONS: dict[str, dict[str, Any]] = {
    "local": {"max_workers": WORKERS},
    "dask": {"n_workers": WORKERS, "threads_per_worker": 1},
    "radical": {"resource": "local.localhost", "runtime": 30, "cores": WORKERS},
}


class FanOut(Learner):
    """One iteration that runs ``width`` simulation tasks at once."""

    required_tasks = ("simulation",)

    async def prepare(self, step: Step) -> Any:
        """Start every task, then wait for all of them."""
        width = step.options["width"]
        return await asyncio.gather(*(step.run("simulation", i) for i in range(width)))

    async def evaluate(self, step: Step) -> Outcome:
        """Nothing to evaluate: one iteration."""
        return Outcome()


class SimulateTrainSelect(Learner):
    """Per iteration: the simulations at once, a training on their results, a selection."""

    required_tasks = ("simulation", "training", "active_learn")
    selection: list[float] = []

    async def prepare(self, step: Step) -> tuple[float]:
        """The simulations of the last selection (the first: 0..3), then the training."""
        inputs = step.inputs[0] if step.inputs else [float(k) for k in range(AL_SIMULATIONS)]
        results = await asyncio.gather(*(step.run("simulation", x) for x in inputs))
        return (await step.run("training", list(results)),)

    async def evaluate(self, step: Step) -> Outcome:
        """The selection, carried to the next iteration."""
        selected = await step.run("active_learn", *step.inputs)
        self.selection = list(selected)
        return Outcome(carry=(selected,))


# The task bodies live at module level, as every tool's do here (``peer_tasks``): on a Dask
# cluster the workers import them by name. Defined inside a function they were pickled by value
# for every task, about 65 us of the driver's CPU per task that no peer pays.


async def noop_task(i: int) -> int:
    """The fan-out's function task: ``noop`` in an ``async def`` (ROSE's tasks are coroutines)."""
    return noop(i)


async def true_command(i: int) -> list[str]:
    """The executables workload's command task: ``/bin/true``."""
    return [TRUE]


async def simulation_task(x: float) -> float:
    """The AL loop's simulation."""
    return simulate(x)


async def training_task(results: list[float]) -> float:
    """The AL loop's training."""
    return train(results)


async def selection_task(model: float) -> list[float]:
    """The AL loop's selection."""
    return select(model)


def fan_out_learner(engine: Any, executable: bool) -> FanOut:
    """The fan-out policy with a no-op function task, or a ``/bin/true`` command task."""
    learner = FanOut(engine)
    if executable:
        learner.simulation_task(true_command)
    else:
        learner.simulation_task(as_executable=False)(noop_task)
    return learner


def al_learner(engine: Any) -> SimulateTrainSelect:
    """The AL loop's policy with the three function tasks (the same bodies as the peers')."""
    learner = SimulateTrainSelect(engine)
    learner.simulation_task(as_executable=False)(simulation_task)
    learner.training_task(as_executable=False)(training_task)
    learner.active_learn_task(as_executable=False)(selection_task)
    return learner


class Rose:
    """ROSE on one backend (``mode``: local, dask, radical); its methods are coroutines."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.engine: Any = None

    async def open(self) -> None:
        """Build the engine (for Dask: a LocalCluster of two workers; RP: a local pilot)."""
        import rose

        self.engine = await rose.engine(self.mode, **ENGINE_OPTIONS[self.mode])

    async def fan_out(self, n: int) -> Any:
        """N no-op function tasks in one iteration."""
        return await fan_out_learner(self.engine, executable=False).start(max_iter=1, width=n)

    async def al_loop(self, iterations: int = AL_ITERATIONS) -> list[float]:
        """The AL loop; returns the last selection."""
        learner = al_learner(self.engine)
        await learner.start(max_iter=iterations)
        return learner.selection

    async def executables(self, n: int) -> Any:
        """N ``/bin/true`` command tasks in one iteration."""
        return await fan_out_learner(self.engine, executable=True).start(max_iter=1, width=n)

    async def close(self) -> None:
        """Shut the engine down."""
        await self.engine.shutdown()
