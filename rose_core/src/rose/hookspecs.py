"""The plugin contract: the registration hooks below, each returning frozen records.

A plugin is a module (registered under the entry point group ``rose.plugins``) with
functions marked ``@rose.hookimpl`` whose names match the hooks below. Each hook returns a
list of records from :mod:`rose.records`. ROSE calls every installed plugin's
implementation and merges the results; two plugins providing the same name is an error
naming both distributions.
"""

from __future__ import annotations

from collections.abc import Sequence

import pluggy

from rose.records import (
    BackendSpec,
    CommandSpec,
    LearnerKindSpec,
    LearnerSpec,
    MetricSpec,
    PolicySpec,
    SchedulerSpec,
    TrackerSpec,
)

PROJECT_NAME = "rose"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

__all__ = [
    "PROJECT_NAME",
    "hookimpl",
    "hookspec",
    "rose_backends",
    "rose_commands",
    "rose_learner_kinds",
    "rose_learners",
    "rose_metrics",
    "rose_policies",
    "rose_schedulers",
    "rose_trackers",
]


@hookspec
def rose_learners() -> Sequence[LearnerSpec]:
    """Return the learners (and their helper objects) this plugin provides.

    ``namespaces`` decides where users import each name from (``rose.al``, ``rose.rl``,
    ``rose.uq``...). The factory is called on first import, so the plugin module itself
    stays cheap to load.

    Example::

        import rose
        from rose.records import LearnerSpec

        def _greedy():
            from my_plugin.greedy import GreedyLearner
            return GreedyLearner

        @rose.hookimpl
        def rose_learners():
            return [
                LearnerSpec(
                    name="GreedyLearner",
                    summary="Always labels the highest-variance point",
                    factory=_greedy,
                    namespaces=("al",),
                )
            ]

        # users then write: from rose.al import GreedyLearner
    """
    raise NotImplementedError  # a specification: plugins implement it


@hookspec
def rose_learner_kinds() -> Sequence[LearnerKindSpec]:
    """Return the kinds of learner this plugin provides, each with its configuration class.

    The configuration class extends :class:`rose.config.LearnerConfig` with one field per task
    kind of the family. The core knows no kind of its own beyond ``simulation``, ``training``
    and ``criterion``: ``LearnerConfig(<field>=...)`` builds the class that declares
    ``<field>``, and ``@learner.<field>_task`` works on a plain ``rose.learner.Learner``.
    A learner says which class it takes with ``config_class``.

    Example::

        from attrs import define

        import rose
        from rose.config import LearnerConfig, TaskConfigValue, task_field
        from rose.learner import Learner
        from rose.records import LearnerKindSpec
        from rose.tasks import TaskKind

        @define(kw_only=True)
        class SurveyConfig(LearnerConfig):
            survey: TaskConfigValue = task_field()

        class SurveyLearner(Learner):
            config_class = SurveyConfig
            survey_task = TaskKind("survey")

        @rose.hookimpl
        def rose_learner_kinds():
            return [LearnerKindSpec(name="survey", summary="learners that survey",
                                    factory=lambda: SurveyConfig)]

        # users then write: LearnerConfig(survey=TaskConfig(kwargs={"--depth": 2}))
    """
    raise NotImplementedError  # a specification: plugins implement it


@hookspec
def rose_metrics() -> Sequence[MetricSpec]:
    """Return named metrics with their direction (the operator that stops a campaign).

    A stop criterion on a registered metric needs no operator; the registry knows that
    ``"rmse"`` stops below the threshold and ``"model_accuracy"`` above it.

    Example::

        import rose
        from rose.records import MetricSpec

        def _pearson():
            from my_plugin.stats import pearson_r
            return pearson_r

        @rose.hookimpl
        def rose_metrics():
            return [
                MetricSpec(name="pearson_r", summary="Pearson correlation",
                           operator=">=", factory=_pearson)
            ]

        # users then write:
        # @learner.as_stop_criterion(metric_name="pearson_r", threshold=0.95)
    """
    raise NotImplementedError  # a specification: plugins implement it


@hookspec
def rose_schedulers() -> Sequence[SchedulerSpec]:
    """Return value schedules (iteration -> value) usable by name.

    Example::

        import rose
        from rose.records import SchedulerSpec

        def _linear(start: float, stop: float, steps: int):
            def value(i: int) -> float:
                return start + (stop - start) * min(i, steps) / steps
            return value

        @rose.hookimpl
        def rose_schedulers():
            return [SchedulerSpec(name="linear", summary="linear ramp", factory=_linear)]

        # users then write:
        # lr = rose.scheduler("linear", start=0.1, stop=0.01, steps=20)
        # learner.create_adaptive_schedule(
        #     "training", lambda i: {"kwargs": {"--lr": lr(i)}})
    """
    raise NotImplementedError  # a specification: plugins implement it


@hookspec
def rose_trackers() -> Sequence[TrackerSpec]:
    """Return experiment trackers usable by name with ``rose.tracker(name, **options)``.

    Example::

        import logging

        import rose
        from rose.records import TrackerSpec

        class LogTracker:
            def on_start(self, manifest): ...
            def on_iteration(self, state):
                logging.getLogger("my_plugin").info(
                    "%d: %s", state.iteration, state.metric_value)
            def on_stop(self, final_state, reason): ...

        @rose.hookimpl
        def rose_trackers():
            return [TrackerSpec(name="log", summary="logs metrics",
                                factory=LogTracker)]

        # users then write: learner.add_tracker(rose.tracker("log"))
    """
    raise NotImplementedError  # a specification: plugins implement it


@hookspec
def rose_backends() -> Sequence[BackendSpec]:
    """Return execution backends usable by name with ``await rose.engine(name, ...)``.

    ``factory(**options)`` returns a radical.asyncflow execution backend (or an
    awaitable of one); ``translate`` maps ROSE's :class:`~rose.records.Resources` to the
    backend's task description.

    Example::

        import rose
        from rose.records import BackendSpec

        def _threads(max_workers: int | None = None):
            from concurrent.futures import ThreadPoolExecutor
            from radical.asyncflow import LocalExecutionBackend
            return LocalExecutionBackend(ThreadPoolExecutor(max_workers))

        def _translate(task_name, resources, shell):
            if resources.gpus:
                raise rose.ResourceError(task_name, resources, "threads", "no GPUs here")
            return {"shell": shell}

        @rose.hookimpl
        def rose_backends():
            return [BackendSpec(name="threads", summary="a thread pool",
                                factory=_threads, translate=_translate)]

        # users then write: engine = await rose.engine("threads", max_workers=4)
    """
    raise NotImplementedError  # a specification: plugins implement it


@hookspec
def rose_policies() -> Sequence[PolicySpec]:
    """Return query policies (which candidates to label next) usable by name with ``rose.policy(name, **options)``.

    ``factory(**options)`` returns an object with ``select(candidates, *, k, scores=None,
    predictions=None, pending=(), rng=None) -> list[int]`` (indices of ``k`` distinct
    candidates, never one of the ``pending`` points still being labelled) and
    ``observe(points, values)``; see :class:`rose.policies.Policy`.
    ``rose.testing.PolicyContract`` checks a policy object.

    Example::

        import rose
        from rose.policies import PolicyBase

        class Lowest(PolicyBase):  # the k candidates with the lowest score
            name = "lowest"

            def rank(self, candidates, available, *, k, scores, predictions, pending, rng):
                return sorted(available, key=lambda i: scores[i])

        @rose.hookimpl
        def rose_policies():
            from rose.records import PolicySpec
            return [PolicySpec(name="lowest", summary="lowest score first", factory=Lowest)]

        # users then write: rose.policy("lowest").select(points, k=4, scores=errors)
    """
    raise NotImplementedError  # a specification: plugins implement it


@hookspec
def rose_commands() -> Sequence[CommandSpec]:
    """Return subcommands of the ``rose`` command line (``rose <name> [options]``).

    ``add_arguments(parser)`` declares the options on the command's argparse sub-parser and
    ``run(args)`` carries the command out, returning its exit status. Both are called only
    when the command is invoked: with :func:`rose.plugins.lazy_call` the module holding them (and
    whatever it imports) stays out of every other ``rose`` command. A name already used by
    ``rose`` itself (``run``, ``runs``, ``show``, ``plugins``...) or by another plugin is an
    error naming both distributions. ``rose.testing.CommandContract`` checks a command.

    Example::

        import argparse

        import rose
        from rose.records import CommandSpec

        def _arguments(parser: argparse.ArgumentParser) -> None:
            parser.add_argument("name", help="who to greet")
            parser.add_argument("--shout", action="store_true", help="in capitals")

        def _greet(args: argparse.Namespace) -> int:
            text = f"hello {args.name}"
            print(text.upper() if args.shout else text)
            return 0

        @rose.hookimpl
        def rose_commands():
            return [CommandSpec(name="greet", summary="say hello",
                                add_arguments=_arguments, run=_greet)]

        # users then type: rose greet world --shout
    """
    raise NotImplementedError  # a specification: plugins implement it
