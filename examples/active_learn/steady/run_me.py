"""Steady-state active learning: simulations that take different times never wait for each other.

Learns y = sin(3x) + x on [0, 2] with a nearest-neighbour surrogate. Four simulations run at
all times; each takes between 0.05 and 0.4 s. As soon as one finishes, the surrogate is
retrained and a new point fills the free slot; the selection never picks a point in flight.

    python examples/active_learn/steady/run_me.py
"""

import asyncio
import math
import random
import time

import rose
from rose.al import SteadyStateActiveLearner
from rose.metrics import MEAN_ABSOLUTE_ERROR_MAE

GRID = [2 * i / 200 for i in range(201)]


def truth(x: float) -> float:
    return math.sin(3 * x) + x


async def main(max_iter: int = 60) -> rose.IterationState:
    labels: dict[float, float] = {}
    async with rose.engine("local") as engine:
        learner = SteadyStateActiveLearner(engine)

        @learner.simulation_task(as_executable=False)
        async def simulate(x: float, point_id: int = 0) -> dict:
            time.sleep(random.Random(point_id).uniform(0.05, 0.4))  # an expensive simulation
            return {"x": x, "y": truth(x)}

        @learner.training_task(as_executable=False)
        async def train(results: list) -> dict:
            labels.update((r["x"], r["y"]) for r in results)
            known = sorted(labels)
            error = sum(abs(labels[min(known, key=lambda k: abs(k - x))] - truth(x)) for x in GRID) / len(GRID)
            return {"labeled_count": len(known), "error": error}

        @learner.active_learn_task(as_executable=False)
        async def select(model: dict | None, pending: list, count: int) -> list:
            taken = sorted([*labels, *pending])
            if not taken:
                return [random.uniform(0, 2) for _ in range(count)]
            # the middles of the widest gaps between known and pending points
            edges = [0.0, *taken, 2.0]
            gaps = sorted(zip(edges, edges[1:]), key=lambda g: g[1] - g[0], reverse=True)
            return [(a + b) / 2 for a, b in gaps[:count]]

        @learner.as_stop_criterion(metric_name=MEAN_ABSOLUTE_ERROR_MAE, threshold=0.02, as_executable=False)
        async def error(model: dict) -> float:
            return model["error"]

        async for state in learner.start(max_iter=max_iter, in_flight=4):
            print(f"retraining {state.iteration}: {state.labeled_count} labels, "
                  f"{state.in_flight} in flight, error {state.metric_value:.4f}")
    return state


if __name__ == "__main__":
    final = asyncio.run(main())
    print("reached the target" if final.should_stop else "stopped at max_iter")
