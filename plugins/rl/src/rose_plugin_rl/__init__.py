"""rose-plugin-rl: reinforcement learners and experience banks for ROSE.

Import them through ROSE: ``from rose.rl.reinforcement_learner import
SequentialReinforcementLearner, ParallelExperience`` and ``from rose.rl.experience import
ExperienceBank`` (both also from ``rose.rl``).
"""

from __future__ import annotations

__all__: list[str] = []
