"""The "Learners with Parameterization" tutorial (parallel-learners-configuration), runnable.

    python examples/active_learn/parallel/run_me.py

This is the tutorial's script as written, with three changes marked "CHANGED":
the engine line (`rose.engine("local")` replaces the RADICAL backend setup), `code_path`
points at this directory instead of the current one (so the command above works from
anywhere), and the notebook-style top-level `await` is wrapped in `asyncio.run(main())`.
Each learner's tasks run in its own directory, runs/<timestamp>-parallelactivelearner/learner-<i>.
"""

import asyncio
import os
import sys

import rose  # CHANGED: the engine comes from rose.engine(...)
from rose import LearnerConfig, TaskConfig
from rose.al import ParallelActiveLearner
from rose.metrics import MEAN_SQUARED_ERROR_MSE


async def main() -> None:
    asyncflow = await rose.engine("local")  # CHANGED: was RadicalExecutionBackend + WorkflowEngine.create
    acl = ParallelActiveLearner(asyncflow)
    code_path = f"{sys.executable} {os.path.dirname(os.path.abspath(__file__))}"  # CHANGED: was os.getcwd()

    # 1. Define Workflow Tasks
    @acl.simulation_task
    async def simulation(*args, **kwargs):
        n_labeled = kwargs.get("--n_labeled", 100)
        n_features = kwargs.get("--n_features", 2)

        return f"{code_path}/sim.py --n_labeled {n_labeled} --n_features {n_features}"

    @acl.training_task
    async def training(*args, **kwargs):
        learning_rate = kwargs.get("--learning_rate", 0.1)
        return f"{code_path}/train.py --learning_rate {learning_rate}"

    @acl.active_learn_task
    async def active_learn(*args, **kwargs):
        return f"{code_path}/active.py"

    @acl.as_stop_criterion(metric_name=MEAN_SQUARED_ERROR_MSE, threshold=0.1)
    async def check_mse(*args, **kwargs):
        return f"{code_path}/check_mse.py"

    # Approach 1: Static Configuration
    results = await acl.start(
        parallel_learners=2,
        max_iter=10,
        learner_configs=[
            LearnerConfig(
                simulation=TaskConfig(kwargs={"--n_labeled": "200", "--n_features": 2}),
                training=TaskConfig(kwargs={"--learning_rate": "0.01"})
            ),
            LearnerConfig(
                simulation=TaskConfig(kwargs={"--n_labeled": "300", "--n_features": 4}),
                training=TaskConfig(kwargs={"--learning_rate": "0.005"})
            )
        ]
    )
    report("Approach 1: static", results)

    # Approach 2: Per-Iteration Configuration
    results = await acl.start(
        parallel_learners=3,
        max_iter=15,
        learner_configs=[
            LearnerConfig(
                simulation=TaskConfig(kwargs={"--n_labeled": "200", "--n_features": 2})
            ),
            LearnerConfig(
                simulation={
                    0: TaskConfig(kwargs={"--n_labeled": "100"}),
                    5: TaskConfig(kwargs={"--n_labeled": "200"}),
                    10: TaskConfig(kwargs={"--n_labeled": "400"}),
                    -1: TaskConfig(kwargs={"--n_labeled": "500"})
                },
                training={
                    0: TaskConfig(kwargs={"--learning_rate": "0.01"}),
                    5: TaskConfig(kwargs={"--learning_rate": "0.005"}),
                    -1: TaskConfig(kwargs={"--learning_rate": "0.001"})
                }
            ),
            None  # Default to base task behavior
        ]
    )
    report("Approach 2: per-iteration", results)

    # Approach 3: Adaptive Configuration
    adaptive_sim = acl.create_adaptive_schedule('simulation',
        lambda i: {
            'kwargs': {
                '--n_labeled': str(100 + i * 50),
                '--n_features': 2,
                '--noise_level': str(0.1 * (0.95 ** i))
            }
        })

    adaptive_train = acl.create_adaptive_schedule('training',
        lambda i: {
            'kwargs': {
                '--learning_rate': str(0.01 * (0.9 ** i)),
                '--batch_size': str(min(64, 32 + i * 4))
            }
        })

    results = await acl.start(
        parallel_learners=2,
        max_iter=20,
        learner_configs=[
            LearnerConfig(simulation=adaptive_sim, training=adaptive_train),
            LearnerConfig(
                simulation=TaskConfig(kwargs={"--n_labeled": "300", "--n_features": 4}),
                training=TaskConfig(kwargs={"--learning_rate": "0.005"})
            )
        ]
    )
    report("Approach 3: adaptive", results)

    # Full Example: All Approaches Combined
    adaptive_sim = acl.create_adaptive_schedule('simulation',
        lambda i: {
            'kwargs': {
                '--n_labeled': str(100 + i * 50),
                '--n_features': 2
            }
        })

    results = await acl.start(
        parallel_learners=3,
        max_iter=15,
        learner_configs=[
            LearnerConfig(simulation=adaptive_sim),  # Adaptive
            LearnerConfig(                           # Per-iteration
                simulation={
                    0: TaskConfig(kwargs={"--n_labeled": "150", "--n_features": 3}),
                    7: TaskConfig(kwargs={"--n_labeled": "250", "--n_features": 3}),
                    -1: TaskConfig(kwargs={"--n_labeled": "400", "--n_features": 3})
                }
            ),
            LearnerConfig(                           # Static
                simulation=TaskConfig(kwargs={"--n_labeled": "300", "--n_features": 4})
            )
        ]
    )
    report("Full example", results)

    await acl.shutdown()


def report(title, results):
    """Print each learner's final iteration and MSE (not part of the tutorial)."""
    print(title)
    for state in results:
        status = "met the criterion" if state.should_stop else "reached max_iter"
        print(f"  learner {state.learner_id}: {status} at iteration {state.iteration}, MSE {state.metric_value:.4f}")


if __name__ == "__main__":
    asyncio.run(main())
