"""Uncertainty-driven active learning: ``UQLearner``, ``SeqUQLearner``, ``ParallelUQLearner``.

Each iteration trains every model (``model_names``) on the latest labeled data, draws
``num_predictions`` (Monte-Carlo) predictions per model, scores the uncertainty of the
ensemble (the ``uncertainty`` task), selects new samples (``active_learn``) and checks the
stop criterion per model. A model that meets the criterion stops training; the campaign
stops when every model has met it, when the uncertainty meets its own threshold, or at
``max_iter``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import numbers
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from attrs import define, evolve, field, frozen

from rose.criterion import threshold_spec
from rose.fanout import Child, configs_manifest, configs_per_child, fan_out, make_child_learner
from rose.learner import Learner, Outcome, Step, TaskKind, check_threshold, parse_metric_value
from rose.legacy import OldRunNames
from rose.metrics import compare, resolve_operator
from rose.names import check_distinct
from rose.options import StartOptions, configuration
from rose.state import IterationState
from rose.steps import Plan
from rose.streaming import LearnerRun
from rose.tasks import CriterionSpec
from rose_plugin_al.kind import ActiveLearnTasks
from rose_plugin_al.sequential import require_simulation

__all__ = ["ParallelUQLearner", "SeqUQLearner", "UQLearner", "UncertaintySpec"]

logger = logging.getLogger("rose_plugin_al")
_T = TypeVar("_T")

#: keyword arguments ROSE adds to the training, prediction and criterion tasks of a model
MODEL_KWARG = "--model_name"
#: keyword argument ROSE adds to each prediction task: the index of the prediction (0..n-1)
PREDICTION_KWARG = "--iteration"


@define(kw_only=True)
class UncertaintySpec(CriterionSpec):
    """The uncertainty task: its UQ metric, threshold, operator and query size."""

    query_size: float = 0.0


class UQLearner(ActiveLearnTasks, Learner):
    """Base of the uncertainty learners: adds the ``uncertainty`` task kind.

    ``@learner.uncertainty_quantification(uq_metric_name=PREDICTIVE_ENTROPY,
    query_size=10, threshold=0.2)`` registers the uncertainty task with a threshold: the
    campaign stops once the metric meets it (for the built-in UQ metrics, once the
    uncertainty drops below the threshold). ``@learner.uncertainty_task`` registers an
    uncertainty task without a threshold: its result goes to the active-learning task (a
    number is also recorded as ``state.uq_value``) but never stops the campaign.
    """

    uncertainty_task = TaskKind("uncertainty")

    def __init__(self, asyncflow: Any = None, **options: Any) -> None:
        super().__init__(asyncflow, **options)
        self.uncertainty_values_per_iteration: dict[Any, Any] = {}
        self.model_metric_values: dict[str, dict[int, float]] = {}
        self.learner_name = self.name

    @property
    def uncertainty(self) -> UncertaintySpec | None:
        """The uncertainty task with a threshold, if one is registered."""
        spec = self.tasks.get("uncertainty")
        return spec if isinstance(spec, UncertaintySpec) else None

    @property
    def query_size(self) -> float | None:
        """The query size given to ``uncertainty_quantification`` (for the user's tasks)."""
        spec = self.uncertainty
        return spec.query_size if spec is not None else None

    def can_stop(self) -> bool:
        """A stop criterion or an uncertainty threshold can end the campaign."""
        return self.criterion is not None or self.uncertainty is not None

    def uncertainty_quantification(
        self,
        uq_metric_name: str,
        query_size: float,
        threshold: float,
        operator: str = "",
        as_executable: bool = True,
        **options: Any,
    ) -> Callable[[Any], Any]:
        """Register the uncertainty task: stop when ``uncertainty OP threshold``.

        ``operator`` defaults to the metric's registered operator (``<`` for the UQ
        scores: stop when the models are certain enough). The task returns a number (or
        prints it on the last line of its stdout for an executable). ``query_size`` is
        stored for the tasks (``learner.query_size``); ROSE does not use it itself.
        """
        if not isinstance(uq_metric_name, str) or not uq_metric_name:
            raise TypeError(f"uncertainty_quantification: uq_metric_name must be a non-empty string, got {uq_metric_name!r}")
        threshold = check_threshold(uq_metric_name, threshold, "uncertainty_quantification")
        if isinstance(query_size, bool) or not isinstance(query_size, numbers.Real):
            raise TypeError(f"uncertainty_quantification({uq_metric_name!r}): query_size must be a number, got {query_size!r}")
        resolve_operator(uq_metric_name, operator)  # an unknown metric without operator= fails now
        options["as_executable"] = options.get("as_executable", as_executable)

        def register(fn: Any) -> Any:
            spec = threshold_spec("uncertainty", fn, options, uq_metric_name, threshold, operator,
                                  UncertaintySpec, query_size=float(query_size))
            return self.add_task(spec, fn)

        return register

    def get_uncertainty_results(self) -> dict[Any, Any]:
        """Uncertainty values by iteration (per learner for parallel learners)."""
        return dict(self.uncertainty_values_per_iteration)

    def manifest_extra(self, plan: Plan) -> dict[str, Any]:
        """The uncertainty task's metric and threshold, the models and predictions per model."""
        extra = dict(plan.manifest)
        info: dict[str, Any] = dict(extra.get("extra") or {})
        spec = self.uncertainty
        if spec is not None:
            info["uncertainty"] = {
                "metric_name": spec.metric_name,
                "threshold": spec.threshold,
                "operator": spec.operator,
                "query_size": spec.query_size,
            }
        for key in ("model_names", "num_predictions"):
            if key in plan.options:
                info[key] = plan.options[key]
        extra["extra"] = info
        return extra


def _check_models(owner: str, model_names: Any, num_predictions: Any) -> list[str]:
    if isinstance(model_names, str) or not isinstance(model_names, Sequence) or not model_names:
        raise ValueError(f"{owner}: model_names must be a non-empty list of model names, got {model_names!r}")
    names = [str(name) for name in model_names]
    if len(set(names)) != len(names):
        raise ValueError(f"{owner}: model_names must be unique, got {names}")
    if not isinstance(num_predictions, int) or isinstance(num_predictions, bool) or num_predictions < 1:
        raise ValueError(f"{owner}: num_predictions must be a whole number >= 1, got {num_predictions!r}")
    return names


def _model_list(value: Any) -> Any:
    """``model_names`` as a list of strings (anything else is left for the validation to name)."""
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return [str(name) for name in value]
    return value


@frozen(kw_only=True)
class UQOptions(StartOptions):
    """``start()`` options of :class:`SeqUQLearner`: the models, the predictions per model and
    ``skip_simulation_step``."""

    model_names: Any = field(converter=_model_list)
    num_predictions: int = 1
    skip_simulation_step: bool = False


@frozen(kw_only=True)
class ParallelUQOptions(UQOptions):
    """``start()`` options of :class:`ParallelUQLearner`: the learners, their configs and ``fail_fast``."""

    learner_names: Any = None
    learner_configs: Any = configuration()
    fail_fast: bool = False


class SeqUQLearner(UQLearner, OldRunNames):
    """One uncertainty-driven active-learning loop over several models.

    Per iteration ``i``: one simulation (config ``i``; it receives the previous selection)
    and, per model still training, training and ``num_predictions`` predictions (keywords
    ``--model_name`` and ``--iteration`` = the prediction's index; models concurrently) -
    skipped for iteration 0 with ``skip_pre_loop=True``; then the uncertainty task (one
    positional argument: the predictions, a list per model of ``num_predictions`` results),
    the active-learn task (after the uncertainty result), and the criterion once per model
    still training (keyword ``--model_name``). Per-iteration configurations apply to every
    task, and the keywords ROSE adds never modify the configuration's own dictionaries.
    """

    required_tasks = ("training", "prediction", "active_learn")

    options_class = UQOptions
    start_positional = ("model_names", "num_predictions", "max_iter", "skip_pre_loop", "initial_config")
    start_aliases = {"learning_config": "initial_config"}

    def validate(self, max_iter: int = 0, **options: Any) -> None:
        """Check models, tasks and the stop conditions."""
        _check_models(type(self).__name__, options.get("model_names"), options.get("num_predictions", 1))
        self.check_tasks(self.required_tasks)
        require_simulation(self, bool(options.get("skip_simulation_step")))
        super().validate(max_iter)

    async def prepare(self, step: Step) -> dict[str, Any]:
        """Simulation once, then per model still training: training and predictions."""
        carry = step.inputs or {}
        active = list(carry.get("active", step.options["model_names"]))
        upstream: tuple[Any, ...] = tuple(carry.get("selected", ()))
        if not step.options.get("skip_simulation_step"):
            upstream = (await step.run("simulation", *upstream),)

        async def one_model(model: str) -> list[Any]:
            trained = await step.run("training", *upstream, record_state=False, **{MODEL_KWARG: model})
            return await gather_or_cancel([
                step.run("prediction", trained, record_state=False, **{MODEL_KWARG: model, PREDICTION_KWARG: j})
                for j in range(step.options["num_predictions"])
            ])

        predictions = await gather_or_cancel([one_model(model) for model in active])
        return {"active": active, "predictions": dict(zip(active, predictions))}

    async def evaluate(self, step: Step) -> Outcome:
        """Uncertainty (may stop), selection, then the criterion of every model still training."""
        model_names: list[str] = list(step.options["model_names"])
        inputs = step.inputs or {}
        active = list(inputs.get("active", model_names))
        predictions = inputs.get("predictions", {})
        self.register_state("models_training", list(active))
        predicted = [predictions[model] for model in model_names if model in predictions]
        al_deps: tuple[Any, ...] = (predicted,)
        if self.has_task("uncertainty"):
            uq_result = await step.run("uncertainty", predicted)
            al_deps = (uq_result,)
            spec = self.uncertainty
            if spec is None and isinstance(uq_result, numbers.Real) and not isinstance(uq_result, bool):
                self.register_state("uq_value", float(uq_result))
            if spec is not None:
                uq_value = parse_metric_value(uq_result, spec.name, spec.as_executable)
                self.uncertainty_values_per_iteration[step.iteration] = uq_value
                self.register_state("uq_value", uq_value)
                if compare(uq_value, spec.threshold, spec.operator):
                    logger.info("[%s] %s = %.6g meets %s %g: stopping", self.label, spec.metric_name, uq_value,
                                spec.operator, spec.threshold)
                    return Outcome(should_stop=True, carry={"active": active})
        selected = await step.run("active_learn", *al_deps)
        metric_value: float | None = None
        if self.criterion is not None and active:
            results = await gather_or_cancel([step.criterion(selected, **{MODEL_KWARG: model}) for model in active])
            values = {model: value for model, (_met, value) in zip(active, results) if value is not None}
            met = [model for model, (was_met, _value) in zip(active, results) if was_met]
            for model, value in values.items():
                self.model_metric_values.setdefault(model, {})[step.iteration] = value
            self.register_state("criterion_values", dict(values))
            metric_value = math.fsum(values.values()) / len(values)
            if met:
                logger.info("[%s] model(s) %s met the stop criterion", self.label, ", ".join(met))
            active = [model for model in active if model not in met]
            if not active:
                return Outcome(metric_value=metric_value, should_stop=True, carry={"active": active})
        return Outcome(metric_value=metric_value, carry={"active": active, "selected": (selected,)})


class ParallelUQLearner(UQLearner, OldRunNames):
    """Several ``SeqUQLearner`` loops at once, one per name in ``learner_names``.

    Each learner has its own configuration (``learner_configs`` maps a learner name to a
    ``LearnerConfig``, or is a list in ``learner_names`` order; missing names and ``None``
    use the base tasks' defaults), its own working directory ``<run_dir>/learner-<name>``
    and ``learner_id`` = its name.
    """

    required_tasks = SeqUQLearner.required_tasks

    options_class = ParallelUQOptions
    start_positional = ("learner_names", "model_names", "num_predictions", "max_iter", "skip_pre_loop",
                        "learner_configs")

    @property
    def learners(self) -> dict[Any, Learner]:
        """The learners of the current (or last) run, by name."""
        return {child.learner_id: child for child in self.children}

    def validate(self, max_iter: int = 0, **options: Any) -> None:
        """Check the learner names, models, tasks and the stop conditions."""
        learner_names = options.get("learner_names")
        if isinstance(learner_names, (str, bytes)) or not isinstance(learner_names, Sequence) or not learner_names:
            raise ValueError(f"ParallelUQLearner: learner_names must be a non-empty list of names, got {learner_names!r}")
        check_distinct(list(learner_names), "learner")
        _check_models(type(self).__name__, options.get("model_names"), options.get("num_predictions", 1))
        self.check_tasks(self.required_tasks)
        require_simulation(self, bool(options.get("skip_simulation_step")))
        super().validate(max_iter)

    def launch(self, plan: Plan) -> LearnerRun:
        """Run every learner: ``async for state in learner.start(["l1", "l2"], ["m1"], 2, max_iter=3)``.

        ``await`` returns the final states sorted by learner name. One learner failing is
        logged with its name and the others go on; ``fail_fast=True`` stops all.
        """
        names = list(plan.options["learner_names"])
        models, num_predictions = plan.options["model_names"], plan.options["num_predictions"]
        skip_simulation_step = plan.options["skip_simulation_step"]
        configs = configs_per_child(names, plan.options["learner_configs"], owner="ParallelUQLearner")
        plan = evolve(plan, manifest=configs_manifest(configs))
        logger.info("Starting parallel UQ active learning with %d learners", len(names))
        self.uncertainty_values_per_iteration = {}

        def make_child(name: Any, directory: str) -> Child:
            child = make_child_learner(self, SeqUQLearner, name, directory)
            self.uncertainty_values_per_iteration[f"learner-{name}"] = child.uncertainty_values_per_iteration
            return Child(
                learner_id=name, learner=child,
                start=lambda resume_dir: child.start(models, num_predictions, plan.max_iter, plan.skip_pre_loop,
                                                     configs[name], skip_simulation_step=skip_simulation_step,
                                                     resume=resume_dir, deadline=plan.deadline),
            )

        return fan_out(self, plan, names, make_child, fail_fast=plan.options["fail_fast"])

    async def teach(self, *args: Any, **kwargs: Any) -> Any:
        """Deprecated: use ``await learner.start(...)``; final states in ``learner_names`` order."""
        call = self.old_call("teach", args, kwargs)
        finals: list[IterationState] = await self.start(**call)
        by_id = {state.learner_id: state for state in finals}
        return [by_id[name] for name in call["learner_names"] if name in by_id]


async def gather_or_cancel(awaitables: Sequence[Awaitable[_T]]) -> list[_T]:
    """Like ``asyncio.gather``, but the first failure cancels (and awaits) the others."""
    tasks = [asyncio.ensure_future(item) for item in awaitables]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
