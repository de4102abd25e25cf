"""rose-plugin-al: active-learning learners for ROSE.

Import them from ``rose.al`` (``SequentialActiveLearner``, ``ParallelActiveLearner``,
``AlgorithmSelector``) and ``rose.uq`` (``SeqUQLearner``, ``ParallelUQLearner``,
``UQScorer``...). Selection strategies for your own tasks are in
:mod:`rose_plugin_al.strategies`. This package module stays cheap to import; the learners
load on first use.
"""

from __future__ import annotations

__all__: list[str] = []
