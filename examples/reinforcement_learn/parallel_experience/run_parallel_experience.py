# The "Advanced RL workflow" script of the ROSE documentation (ParallelExperience with five
# environment tasks), unchanged except:
#   * the engine: `engine = await rose.engine("local")` replaces the RadicalExecutionBackend +
#     WorkflowEngine.create lines, and the learner is given that engine;
#   * the criterion command: the documentation's f'python3 {code_path}/check_reward.py'
#     expands to "python3 <python> <dir>/check_reward.py" (code_path already starts with the
#     interpreter), which cannot run; it is written like the other tasks here;
#   * the imports and the asyncio entry point the documentation's snippet leaves out.
# Run it from this directory: python run_parallel_experience.py
import asyncio
import os
import sys

import rose
from rose.metrics import GREATER_THAN_THRESHOLD
from rose.rl.reinforcement_learner import ParallelExperience, SequentialReinforcementLearner  # noqa: F401


async def main():
    engine = await rose.engine("local")
    pe = ParallelExperience(engine)
    code_path = f'{sys.executable} {os.getcwd()}'

    # Define multiple environment tasks
    @pe.environment_task(name='env_1')
    async def environment_1(*args):
        return f'{code_path}/environment.py parameter=1'

    @pe.environment_task(name='env_2')
    async def environment_2(*args):
        return f'{code_path}/environment.py parameter=2'

    @pe.environment_task(name='env_3')
    async def environment_3(*args):
        return f'{code_path}/environment.py parameter=3'

    @pe.environment_task(name='env_4')
    async def environment_4(*args):
        return f'{code_path}/environment.py parameter=4'

    @pe.environment_task(name='env_5')
    async def environment_5(*args):
        return f'{code_path}/environment.py parameter=5'

    @pe.update_task
    async def update(*args):
        return f'{code_path}/update.py'

    @pe.as_stop_criterion(metric_name='MODEL_REWARD', threshold=200, operator=GREATER_THAN_THRESHOLD)
    async def check_reward(*args):
        return f'{code_path}/check_reward.py'

    # Start the RL training loop and break when stop condition is met
    await pe.learn()
    await engine.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
