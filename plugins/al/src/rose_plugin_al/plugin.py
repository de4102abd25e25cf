"""Entry point ``al``: registers the active-learning learners, UQ helpers and query policies (cheap to import).

Nothing heavy is imported here: every learner, the scorer and numpy load on first use.
"""

from __future__ import annotations

from rose.hookspecs import hookimpl
from rose.metrics import BUILTIN_METRICS
from rose.plugins import lazy, lazy_call
from rose.records import LearnerKindSpec, LearnerSpec, MetricSpec, PolicySpec

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
    ("ActiveLearnerConfig", "rose_plugin_al.config:ActiveLearnerConfig",
     "LearnerConfig with the active-learning task kinds (prediction, active_learn, uncertainty, utility)", _AL,
     "support"),
    ("UQLearnerConfig", "rose_plugin_al.config:ActiveLearnerConfig",
     "ActiveLearnerConfig under its ROSE 0.3 name", _UQ, "support"),
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
def rose_learner_kinds() -> list[LearnerKindSpec]:
    """The active-learning kind: ``LearnerConfig(active_learn=...)`` builds an ``ActiveLearnerConfig``."""
    return [LearnerKindSpec(name="al", summary="active learning and uncertainty quantification",
                            factory=lazy("rose_plugin_al.config:ActiveLearnerConfig"))]


@hookimpl
def rose_metrics() -> list[MetricSpec]:
    """Uncertainty scores of ``UQScorer`` that the core does not register already."""
    core = {name for name, _operator, _summary in BUILTIN_METRICS}
    return [
        MetricSpec(name=name, summary=summary, operator=operator, factory=lazy(path))
        for name, operator, summary, path in _UQ_METRICS
        if name not in core
    ]


#: (name, module:class, summary, batch_aware, pending_aware)
_POLICIES: tuple[tuple[str, str, str, bool, bool], ...] = (
    ("random", "rose_plugin_al.policies:RandomPolicy", "uniformly random distinct candidates (a baseline)", False, False),
    ("max-variance", "rose_plugin_al.policies:MaxVariance",
     "highest disagreement of an ensemble or MC predictions", False, False),
    ("margin", "rose_plugin_al.policies:Margin", "smallest gap between the two most likely classes", False, False),
    ("entropy", "rose_plugin_al.policies:Entropy", "highest entropy of the class distribution", False, False),
    ("expected-improvement", "rose_plugin_al.policies:ExpectedImprovement",
     "expected improvement of a Gaussian prediction; batch and pending points by kriging believer", True, True),
    ("greedy-k-center", "rose_plugin_al.policies:GreedyKCenter",
     "a batch spread over the space, away from labelled and pending points", True, True),
    ("batch-diverse-top-k", "rose_plugin_al.policies:BatchDiverseTopK",
     "a diverse batch among the most uncertain, away from labelled and pending points", True, True),
)


@hookimpl
def rose_policies() -> list[PolicySpec]:
    """The query policies built on :mod:`rose_plugin_al.strategies` (``rose.policy(name)``)."""
    return [
        PolicySpec(name=name, summary=summary, factory=lazy_call(path), batch_aware=batch, pending_aware=pending)
        for name, path, summary, batch, pending in _POLICIES
    ]
