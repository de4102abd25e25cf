"""ROSE 0.3 path ``rose.al.active_learner``: the AL learners (the AL plugin) and the configs.

``from rose.al.active_learner import SequentialActiveLearner, LearnerConfig`` works as in
0.3; new code imports learners from ``rose.al`` and configs from ``rose``.
"""

from __future__ import annotations

from rose._compat import alias_module

__getattr__, __dir__, __all__ = alias_module(__name__)
