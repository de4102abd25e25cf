"""Uncertainty-driven active learning with two model families and Monte-Carlo predictions.

    python examples/active_learn/uq/run_me.py [--max-iter 10] [--num-predictions 4]

Every iteration trains both models, draws 4 bootstrap predictions each (--num-predictions), scores the
ensemble's predictive variance over the pool with UQScorer (a function task that receives
the predictions), labels the most uncertain points and checks each model's MSE. A model
that reaches the MSE target stops training; the campaign stops when both have, or when
the mean predictive variance drops below its threshold.
"""

import argparse
import asyncio
import os
import sys

import numpy as np

import rose
from rose.metrics import MEAN_SQUARED_ERROR_MSE, PREDICTIVE_VARIANCE
from rose.uq import SeqUQLearner, UQScorer

HERE = os.path.dirname(os.path.abspath(__file__))


async def main(max_iter: int, num_predictions: int) -> None:
    engine = await rose.engine("local")
    learner = SeqUQLearner(engine)
    code = f"{sys.executable} {HERE}"

    @learner.simulation_task
    async def simulation(*args, **kwargs):
        return f"{code}/sim.py"

    @learner.training_task
    async def training(*args, **kwargs):
        return f"{code}/train.py --model_name {kwargs['--model_name']}"

    @learner.prediction_task
    async def prediction(*args, **kwargs):
        return f"{code}/predict.py --model_name {kwargs['--model_name']} --iteration {kwargs['--iteration']}"

    @learner.uncertainty_quantification(
        uq_metric_name=PREDICTIVE_VARIANCE, query_size=3, threshold=1e-5, as_executable=False
    )
    async def uncertainty(predictions, **kwargs):
        # predictions: per model, the stdout (a file path) of each Monte-Carlo prediction
        mc = np.array([np.load(path.strip()) for per_model in predictions for path in per_model])
        scorer = UQScorer("regression")
        top, _ = scorer.select_top_uncertain(mc, k=int(learner.query_size), metric=PREDICTIVE_VARIANCE)
        return {"metric_value": float(scorer.predictive_variance(mc).mean()), "indices": top.tolist()}

    @learner.active_learn_task
    async def active_learn(uq_result, **kwargs):
        return f"{code}/active.py --indices {','.join(map(str, uq_result['indices']))}"

    @learner.as_stop_criterion(metric_name=MEAN_SQUARED_ERROR_MSE, threshold=1e-3)
    async def check_mse(*args, **kwargs):
        return f"{code}/check_mse.py --model_name {kwargs['--model_name']}"

    async for state in learner.start(model_names=["rbf", "poly"], num_predictions=num_predictions, max_iter=max_iter):
        mse = ", ".join(f"{m} {v:.1e}" for m, v in state.get("criterion_values", {}).items())
        print(f"iteration {state.iteration}: mean predictive variance {state.uq_value:.2e}; MSE {mse or '-'}")
    print(f"done; files in {learner.run_dir}")
    await engine.shutdown()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-iter", type=int, default=10)
    parser.add_argument("--num-predictions", type=int, default=4, help="bootstrap predictions per model")
    options = parser.parse_args()
    asyncio.run(main(options.max_iter, options.num_predictions))
