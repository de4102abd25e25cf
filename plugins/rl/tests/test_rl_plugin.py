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
