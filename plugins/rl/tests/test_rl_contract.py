"""Every reinforcement learner of this plugin passes rose.testing.LearnerContract."""

from __future__ import annotations

from typing import Any, ClassVar

from rose import LearnerConfig
from rose.learner import Learner
from rose.rl import ParallelExperience, ParallelReinforcementLearner, SequentialReinforcementLearner
from rose.streaming import LearnerRun
from rose.testing import LearnerContract


def add_rl_tasks(learner: Learner) -> Learner:
    @learner.environment_task(as_executable=False)
    async def environment(*previous: Any) -> dict[str, Any]:
        return {"episodes": 1 + len(previous)}

    @learner.update_task(as_executable=False)
    async def update(*experience: Any) -> str:
        return "policy"

    return learner


class TestSequentialReinforcementLearnerContract(LearnerContract):
    def make_learner(self, engine: Any) -> Learner:
        return add_rl_tasks(SequentialReinforcementLearner(engine))


class TestParallelReinforcementLearnerContract(LearnerContract):
    streamed_children = True
    learner_ids: ClassVar[list[Any]] = [0, 1]

    def make_learner(self, engine: Any) -> Learner:
        return add_rl_tasks(ParallelReinforcementLearner(engine))

    def start(self, learner: Any, *, max_iter: int, config: LearnerConfig | None, resume: Any = None) -> LearnerRun:
        return learner.start(2, max_iter, learner_configs=[config, config], resume=resume)


class TestParallelExperienceContract(LearnerContract):
    def make_learner(self, engine: Any) -> Learner:
        from rose_plugin_rl.experience import ExperienceBank, create_experience

        pe = ParallelExperience(engine)
        for name in ("env_1", "env_2"):
            @pe.environment_task(name=name, as_executable=False)
            async def environment(*previous: Any, _name: str = name) -> dict[str, Any]:
                bank = ExperienceBank()
                bank.add(create_experience([0.0], 1, 1.0, [1.0], False))
                bank.save(pe.work_dir, f"experience_bank_{_name}.npz")
                return {"episodes": 1}

        @pe.update_task(as_executable=False)
        async def update(*bank: Any) -> str:
            return "policy"

        return pe
