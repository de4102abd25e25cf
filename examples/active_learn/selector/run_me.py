"""Algorithm selection: three query strategies race, the best accuracy wins.

    python examples/active_learn/selector/run_me.py [--max-iter 8]

Each algorithm runs its own simulate -> train -> select -> check loop, concurrently, in
its own directory runs/<timestamp>-algorithmselector/algorithm-<name>. The accuracy metric
is "higher is better", so the selector picks the highest final accuracy (ties: fewer
iterations).
"""

import argparse
import asyncio
import os
import sys

import rose
from rose.al import AlgorithmSelector
from rose.metrics import MODEL_ACCURACY

HERE = os.path.dirname(os.path.abspath(__file__))


async def main(max_iter: int) -> None:
    engine = await rose.engine("local")
    selector = AlgorithmSelector(engine)
    code = f"{sys.executable} {HERE}"

    @selector.simulation_task
    async def simulation(*args, **kwargs):
        return f"{code}/sim.py"

    @selector.training_task
    async def training(*args, **kwargs):
        return f"{code}/train.py"

    @selector.active_learn_task(name="random")
    async def random_sampling(*args, **kwargs):
        return f"{code}/active.py --strategy random"

    @selector.active_learn_task(name="margin")
    async def margin_sampling(*args, **kwargs):
        return f"{code}/active.py --strategy margin"

    @selector.active_learn_task(name="diverse_margin")
    async def diverse_margin(*args, **kwargs):
        return f"{code}/active.py --strategy diverse"

    @selector.as_stop_criterion(metric_name=MODEL_ACCURACY, threshold=0.98)
    async def check_accuracy(*args, **kwargs):
        return f"{code}/check_accuracy.py"

    async for state in selector.start(max_iter=max_iter):
        print(f"{state.learner_id:>15} iteration {state.iteration}: accuracy {state.metric_value:.3f}")
    best, stats = selector.get_best_algorithm()
    print(f"best algorithm: {best} (accuracy {stats['last_result']:.3f} after {stats['iterations']} iterations)")
    await engine.shutdown()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-iter", type=int, default=8)
    asyncio.run(main(parser.parse_args().max_iter))
