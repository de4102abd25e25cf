"""The ``rl`` entry point: what it registers and where users import it from."""

from __future__ import annotations

import subprocess
import sys

from rose.testing import check_learner_spec


def test_every_record_meets_the_learner_contract():
    from rose_plugin_rl.plugin import rose_learners

    specs = {spec.name: spec for spec in rose_learners()}
    for spec in specs.values():
        check_learner_spec(spec)
    for name in ("SequentialReinforcementLearner", "ParallelReinforcementLearner", "ParallelExperience"):
        assert specs[name].namespaces == ("rl", "rl.reinforcement_learner") and specs[name].role == "learner"
    for name in ("Experience", "ExperienceBank", "create_experience"):
        assert specs[name].namespaces == ("rl", "rl.experience") and specs[name].role == "support"


def test_documented_imports_work_and_the_entry_module_stays_cheap():
    code = (
        "import sys\n"
        "import rose_plugin_rl.plugin\n"
        "assert 'numpy' not in sys.modules, 'the entry module must not import numpy'\n"
        "from rose.rl.reinforcement_learner import SequentialReinforcementLearner, ParallelExperience\n"
        "from rose.rl.reinforcement_learner import ParallelReinforcementLearner\n"
        "from rose.rl.experience import ExperienceBank, Experience, create_experience\n"
        "from rose.rl import ExperienceBank as B, ParallelExperience as P\n"
        "assert B is ExperienceBank and P is ParallelExperience\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_the_rl_kind_provides_the_environment_and_update_fields():
    from rose_plugin_rl.plugin import rose_learner_kinds

    from rose import LearnerConfig, TaskConfig
    from rose.config import task_kinds
    from rose.rl import ReinforcementLearnerConfig, SequentialReinforcementLearner
    from rose.testing import check_learner_kind_spec

    (spec,) = rose_learner_kinds()
    check_learner_kind_spec(spec)
    assert spec.factory() is ReinforcementLearnerConfig and task_kinds(ReinforcementLearnerConfig) == ["environment", "update"]
    config = LearnerConfig(environment=TaskConfig(kwargs={"--episodes": 5}), update=TaskConfig())
    assert type(config) is ReinforcementLearnerConfig and config.resolve("env_1", 0, "environment").kwargs == {"--episodes": 5}
    assert SequentialReinforcementLearner.config_class is ReinforcementLearnerConfig
