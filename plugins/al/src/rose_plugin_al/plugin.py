"""Entry point ``al``: registers the active-learning learners and UQ helpers (cheap to import).

Nothing heavy is imported here: every learner, the scorer and numpy load on first use.
"""

from __future__ import annotations

from rose.hookspecs import hookimpl
from rose.metrics import BUILTIN_METRICS
from rose.plugins import lazy
from rose.records import LearnerSpec, MetricSpec

_AL = ("al",)
_UQ = ("uq",)

#: (name, module:attribute, summary, namespaces, role)
_EXPORTS: tuple[tuple[str, str, str, tuple[str, ...], str], ...] = (
    ("SequentialActiveLearner", "rose_plugin_al.sequential:SequentialActiveLearner",
     "simulation -> training -> active learning -> criterion, one loop", _AL, "learner"),
    ("ParallelActiveLearner", "rose_plugin_al.parallel:ParallelActiveLearner",
     "several independent active-learning loops at once, each with its own configuration", _AL, "learner"),
    ("SteadyStateActiveLearner", "rose_plugin_al.steady:SteadyStateActiveLearner",
     "keeps K simulations in flight and retrains as labels arrive, pending-aware (no iteration barrier)", _AL,
     "learner"),
    ("AlgorithmSelector", "rose_plugin_al.selector:AlgorithmSelector",
     "runs several active-learning algorithms concurrently and picks the best", _AL, "learner"),
    ("UQLearner", "rose_plugin_al.uq:UQLearner",
     "base of the uncertainty learners (the uncertainty task)", _UQ, "learner"),
    ("SeqUQLearner", "rose_plugin_al.uq:SeqUQLearner",
     "uncertainty-driven active learning over several models with MC predictions", _UQ, "learner"),
    ("ParallelUQLearner", "rose_plugin_al.uq:ParallelUQLearner",
     "several uncertainty-driven active-learning loops at once", _UQ, "learner"),
    ("UQScorer", "rose_plugin_al.uq_scorer:UQScorer",
     "uncertainty scores from MC predictions and top-k uncertain selection", _UQ, "support"),
    ("register_uq", "rose_plugin_al.uq_scorer:register_uq",
     "decorator registering a custom uncertainty score", _UQ, "support"),
    ("UQ_REGISTRY", "rose_plugin_al.uq_scorer:UQ_REGISTRY",
     "the registered uncertainty scores (name -> function)", _UQ, "support"),
    ("UQLearnerConfig", "rose.config:LearnerConfig",
     "LearnerConfig (it has the uncertainty field) under its ROSE 0.3 name", _UQ, "support"),
)

#: uncertainty scores this plugin adds as metrics (stop when the value drops below the threshold)
_UQ_METRICS: tuple[tuple[str, str, str, str], ...] = (
    ("least_confidence", "<", "1 - highest mean class probability (large = uncertain)",
     "rose_plugin_al.uq_scorer:least_confidence"),
)


@hookimpl
def rose_learners() -> list[LearnerSpec]:
    """The active-learning learners (``rose.al``) and the uncertainty learners and helpers (``rose.uq``)."""
    return [
        LearnerSpec(name=name, summary=summary, factory=lazy(path), namespaces=namespaces, role=role)
        for name, path, summary, namespaces, role in _EXPORTS
    ]


@hookimpl
def rose_metrics() -> list[MetricSpec]:
    """Uncertainty scores of ``UQScorer`` that the core does not register already."""
    core = {name for name, _operator, _summary in BUILTIN_METRICS}
    return [
        MetricSpec(name=name, summary=summary, operator=operator, factory=lazy(path))
        for name, operator, summary, path in _UQ_METRICS
        if name not in core
    ]
