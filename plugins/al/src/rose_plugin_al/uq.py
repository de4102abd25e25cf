"""Uncertainty-driven active learning: ``UQLearner``, ``SeqUQLearner``, ``ParallelUQLearner``.

Each iteration trains every model (``model_names``) on the latest labeled data, draws
``num_predictions`` (Monte-Carlo) predictions per model, scores the uncertainty of the
ensemble (the ``uncertainty`` task), selects new samples (``active_learn``) and checks the
stop criterion per model. A model that meets the criterion stops training; the campaign
stops when every model has met it, when the uncertainty meets its own threshold, or at
``max_iter``.
"""

from __future__ import annotations

import logging
import math
import numbers
import warnings
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

from attrs import asdict, define

from rose.config import LearnerConfig
from rose.learner import Learner, TaskKind, parse_metric_value
from rose.metrics import compare, resolve_operator
from rose.state import IterationState
from rose.streaming import LearnerRun
from rose.tasks import CriterionSpec, TaskSpec
from rose_plugin_al._common import (
    ParallelManifestMixin,
    adopt_tasks,
    check_config,
    check_required_tasks,
    combined_stop_reason,
    gather_or_cancel,
    learner_dir,
    merged_campaign,
)

__all__ = ["ParallelUQLearner", "SeqUQLearner", "UQLearner", "UncertaintySpec"]

logger = logging.getLogger("rose_plugin_al")

#: keyword arguments ROSE adds to the training, prediction and criterion tasks of a model
MODEL_KWARG = "--model_name"
#: keyword argument ROSE adds to each prediction task: the index of the prediction (0..n-1)
PREDICTION_KWARG = "--iteration"


@define(kw_only=True)
class UncertaintySpec(CriterionSpec):
    """The uncertainty task: its UQ metric, threshold, operator and query size."""

    query_size: float = 0.0


class UQLearner(Learner):
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
        for label, value in (("threshold", threshold), ("query_size", query_size)):
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(f"uncertainty_quantification({uq_metric_name!r}): {label} must be a number, got {value!r}")
        resolved = resolve_operator(uq_metric_name, operator)
        options["as_executable"] = options.get("as_executable", as_executable)

        def register(fn: Any) -> Any:
            base = TaskSpec.build("uncertainty", fn, options)
            fields = asdict(base, recurse=False)
            fields["name"] = "uncertainty"
            spec = UncertaintySpec(
                **fields,
                metric_name=uq_metric_name,
                threshold=float(threshold),
                operator=resolved,
                query_size=float(query_size),
            )
            self.tasks["uncertainty"] = spec
            return self._callable_task(spec, fn)

        return register

    def get_uncertainty_results(self) -> dict[Any, Any]:
        """Uncertainty values by iteration (per learner for parallel learners)."""
        return dict(self.uncertainty_values_per_iteration)

    def _manifest_extra(self, options: Mapping[str, Any]) -> dict[str, Any]:
        extra = {key: options[key] for key in ("parallel_count", "learner_configs") if key in options}
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
            if key in options:
                info[key] = options[key]
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


class SeqUQLearner(UQLearner):
    """One uncertainty-driven active-learning loop over several models.

    Per iteration ``i``: uncertainty task (config ``i``, one positional argument: the
    predictions, a list per model of ``num_predictions`` results), active-learn task
    (config ``i``, after the uncertainty result), the criterion once per model still
    training (config ``i``, keyword ``--model_name``), then, only if another iteration
    follows, one simulation (config ``i + 1``) and, per model still training, training and
    ``num_predictions`` predictions (keywords ``--model_name`` and ``--iteration`` = the
    prediction's index). Per-iteration configurations apply to every task, and the
    keywords ROSE adds never modify the configuration's own dictionaries.
    """

    required_tasks = ("training", "prediction", "active_learn")

    def validate(  # type: ignore[override]
        self,
        model_names: Sequence[str] = (),
        num_predictions: int = 1,
        max_iter: int = 0,
        skip_pre_loop: bool = False,
        learning_config: LearnerConfig | None = None,
        skip_simulation_step: bool = False,
    ) -> list[str]:
        """Check models, tasks, stop conditions and the configuration; return the model names."""
        names = _check_models(type(self).__name__, model_names, num_predictions)
        check_required_tasks(self, self.required_tasks, skip_simulation_step=skip_simulation_step)
        self.check_max_iter(max_iter)
        if isinstance(learning_config, Mapping):
            raise TypeError(
                "learning_config is one LearnerConfig for this learner (UQLearnerConfig is LearnerConfig); "
                "per-learner dictionaries go to ParallelUQLearner(learner_configs={...})"
            )
        check_config(learning_config, "learning_config")
        return names

    def start(  # type: ignore[override]
        self,
        model_names: Sequence[str],
        num_predictions: int = 1,
        max_iter: int = 0,
        skip_pre_loop: bool = False,
        learning_config: LearnerConfig | None = None,
        *,
        skip_simulation_step: bool = False,
    ) -> LearnerRun:
        """Run the loop: ``async for state in learner.start(["m1", "m2"], 4, max_iter=5)``."""
        names = self.validate(model_names, num_predictions, max_iter, skip_pre_loop, learning_config, skip_simulation_step)
        return LearnerRun(
            lambda: self.run_campaign(
                self._iterate(names, num_predictions, max_iter, skip_pre_loop, skip_simulation_step, learning_config),
                max_iter=max_iter,
                model_names=names,
                num_predictions=num_predictions,
            )
        )

    async def _model_round(
        self,
        iteration: int,
        config: LearnerConfig | None,
        models: Sequence[str],
        num_predictions: int,
        upstream: tuple[Any, ...],
        simulate: bool,
    ) -> dict[str, list[Any]]:
        """Simulation once, then per model training and predictions (models concurrently)."""
        if simulate:
            sim_result = await self.run_task("simulation", iteration=iteration, config=config, deps=upstream)
            upstream = (sim_result,)

        async def one_model(model: str) -> list[Any]:
            trained = await self.run_task(
                "training", iteration=iteration, config=config, deps=upstream,
                extra_kwargs={MODEL_KWARG: model}, record_state=False,
            )
            return await gather_or_cancel([
                self.run_task(
                    "prediction", iteration=iteration, config=config, deps=(trained,),
                    extra_kwargs={MODEL_KWARG: model, PREDICTION_KWARG: j}, record_state=False,
                )
                for j in range(num_predictions)
            ])

        results = await gather_or_cancel([one_model(model) for model in models])
        return dict(zip(models, results))

    async def _criterion_per_model(
        self, iteration: int, config: LearnerConfig | None, models: Sequence[str], deps: tuple[Any, ...]
    ) -> dict[str, float]:
        spec = self.criterion
        assert spec is not None

        async def one(model: str) -> float:
            result = await self.run_task(
                "criterion", iteration=iteration, config=config, deps=deps, extra_kwargs={MODEL_KWARG: model}
            )
            return parse_metric_value(result, spec.name, spec.as_executable)

        values = await gather_or_cancel([one(model) for model in models])
        return dict(zip(models, values))

    async def _iterate(  # type: ignore[override]
        self,
        model_names: list[str],
        num_predictions: int,
        max_iter: int,
        skip_pre_loop: bool,
        skip_simulation_step: bool,
        config: LearnerConfig | None,
    ) -> AsyncIterator[IterationState]:
        simulate = not skip_simulation_step
        active = list(model_names)
        self.model_metric_values = {model: {} for model in model_names}
        predictions: dict[str, list[Any]] = {}
        if not skip_pre_loop:
            predictions = await self._model_round(0, config, active, num_predictions, (), simulate)
        i = 0
        while max_iter == 0 or i < max_iter:
            if self.is_stopped:
                self._stop_reason = "stopped"
                return
            config = self.take_pending_config(config)
            self.clear_state()
            self.register_state("models_training", list(active))
            predicted = [predictions[model] for model in model_names if model in predictions]
            al_deps: tuple[Any, ...] = (predicted,)
            if self.has_task("uncertainty"):
                uq_result = await self.run_task("uncertainty", iteration=i, config=config, deps=(predicted,))
                al_deps = (uq_result,)
                spec = self.uncertainty
                if spec is None and isinstance(uq_result, numbers.Real) and not isinstance(uq_result, bool):
                    self.register_state("uq_value", float(uq_result))
                if spec is not None:
                    uq_value = parse_metric_value(uq_result, spec.name, spec.as_executable)
                    self.uncertainty_values_per_iteration[i] = uq_value
                    self.register_state("uq_value", uq_value)
                    if compare(uq_value, spec.threshold, spec.operator):
                        logger.info(
                            "[%s] %s = %.6g meets %s %g: stopping", self._label(), spec.metric_name, uq_value,
                            spec.operator, spec.threshold,
                        )
                        yield self.build_iteration_state(i, None, True, config)
                        self._stop_reason = "criterion_met"
                        return
            al_result = await self.run_task("active_learn", iteration=i, config=config, deps=al_deps)
            metric_value: float | None = None
            should_stop = False
            if self.criterion is not None and active:
                values = await self._criterion_per_model(i, config, active, (al_result,))
                met = []
                for model, value in values.items():
                    self.model_metric_values[model][i] = value
                    if compare(value, self.criterion.threshold, self.criterion.operator):
                        met.append(model)
                self.register_state("criterion_values", dict(values))
                metric_value = math.fsum(values.values()) / len(values)
                self.metric_values_per_iteration[i] = metric_value
                if met:
                    logger.info("[%s] model(s) %s met the stop criterion", self._label(), ", ".join(met))
                active = [model for model in active if model not in met]
                should_stop = not active
            state = self.build_iteration_state(i, metric_value, should_stop, config)
            yield state
            if self.ends_after(state, max_iter):
                return
            config = self.take_pending_config(config)
            predictions = await self._model_round(i + 1, config, active, num_predictions, (al_result,), simulate)
            i += 1
        self._stop_reason = "max_iter_reached"

    async def teach(
        self,
        model_names: Sequence[str],
        num_predictions: int = 1,
        max_iter: int = 0,
        skip_pre_loop: bool = False,
        learning_config: LearnerConfig | None = None,
    ) -> IterationState | None:
        """Deprecated: use ``await learner.start(...)``; returns the final state."""
        warnings.warn("teach() is deprecated; use `await learner.start(...)`", DeprecationWarning, stacklevel=2)
        result: IterationState | None = await self.start(model_names, num_predictions, max_iter, skip_pre_loop, learning_config)
        return result


class ParallelUQLearner(ParallelManifestMixin, SeqUQLearner):
    """Several ``SeqUQLearner`` loops at once, one per name in ``learner_names``.

    Each learner has its own configuration (``learner_configs`` maps a learner name to a
    ``LearnerConfig``; missing names and ``None`` use the base tasks' defaults), its own
    working directory ``<run_dir>/learner-<name>`` and ``learner_id`` = its name.
    """

    def __init__(self, asyncflow: Any = None, **options: Any) -> None:
        super().__init__(asyncflow, **options)
        self.learners: dict[Any, SeqUQLearner] = {}

    def validate_parallel(
        self,
        learner_names: Sequence[Any],
        model_names: Sequence[str],
        num_predictions: int,
        max_iter: int,
        skip_pre_loop: bool,
        learner_configs: Mapping[Any, LearnerConfig | None] | Sequence[LearnerConfig | None] | None,
        skip_simulation_step: bool,
    ) -> tuple[list[Any], list[str], dict[Any, LearnerConfig | None]]:
        """Check learners, models, tasks and configurations before anything runs."""
        if isinstance(learner_names, (str, bytes)) or not isinstance(learner_names, Sequence) or not learner_names:
            raise ValueError(f"ParallelUQLearner: learner_names must be a non-empty list of names, got {learner_names!r}")
        names = list(learner_names)
        if len(set(map(str, names))) != len(names):
            raise ValueError(f"ParallelUQLearner: learner_names must be unique, got {names}")
        models = SeqUQLearner.validate(self, model_names, num_predictions, max_iter, skip_pre_loop, None, skip_simulation_step)
        configs: dict[Any, LearnerConfig | None] = {name: None for name in names}
        if learner_configs is None:
            pass
        elif isinstance(learner_configs, Mapping):
            unknown = [name for name in learner_configs if name not in configs]
            if unknown:
                raise ValueError(
                    f"ParallelUQLearner: learner_configs names unknown learner(s) {unknown}; learner_names are {names}"
                )
            for name, config in learner_configs.items():
                configs[name] = check_config(config, f"learner_configs[{name!r}]")
        elif isinstance(learner_configs, Sequence) and not isinstance(learner_configs, (str, bytes)):
            if len(learner_configs) != len(names):
                raise ValueError(
                    f"ParallelUQLearner: learner_configs has {len(learner_configs)} entries but there are "
                    f"{len(names)} learner_names: give one LearnerConfig (or None) per learner"
                )
            for name, config in zip(names, learner_configs):
                configs[name] = check_config(config, f"learner_configs for {name!r}")
        else:
            raise TypeError(
                f"ParallelUQLearner: learner_configs must map learner names to LearnerConfig, got {learner_configs!r}"
            )
        return names, models, configs

    def start(  # type: ignore[override]
        self,
        learner_names: Sequence[Any],
        model_names: Sequence[str],
        num_predictions: int = 1,
        max_iter: int = 0,
        skip_pre_loop: bool = False,
        learner_configs: Mapping[Any, LearnerConfig | None] | Sequence[LearnerConfig | None] | None = None,
        *,
        skip_simulation_step: bool = False,
        fail_fast: bool = False,
    ) -> LearnerRun:
        """Run every learner: ``async for state in learner.start(["l1", "l2"], ["m1"], 2, max_iter=3)``.

        ``await`` returns the final states sorted by learner name. One learner failing is
        logged with its name and the others go on; ``fail_fast=True`` stops all.
        """
        names, models, configs = self.validate_parallel(
            learner_names, model_names, num_predictions, max_iter, skip_pre_loop, learner_configs, skip_simulation_step
        )
        logger.info("Starting parallel UQ active learning with %d learners", len(names))

        def campaign() -> AsyncIterator[IterationState]:
            self._begin_campaign()
            self.learners = {name: self._create_sequential_learner(name) for name in names}
            self.metric_values_per_iteration = {
                f"learner-{name}": sub.metric_values_per_iteration for name, sub in self.learners.items()
            }
            self.uncertainty_values_per_iteration = {
                f"learner-{name}": sub.uncertainty_values_per_iteration for name, sub in self.learners.items()
            }
            runs = [
                (
                    name,
                    sub.start(
                        models, num_predictions, max_iter, skip_pre_loop, configs[name],
                        skip_simulation_step=skip_simulation_step,
                    ).__aiter__(),
                )
                for name, sub in self.learners.items()
            ]
            return merged_campaign(
                self,
                runs,
                fail_fast=fail_fast,
                label="learner",
                max_iter=max_iter,
                on_end=self._finish,
                parallel_count=len(names),
                learner_configs=[c.to_dict() if c is not None else None for c in configs.values()],
                model_names=models,
                num_predictions=num_predictions,
            )

        return LearnerRun(campaign, parallel=True)

    def _create_sequential_learner(self, learner_name: Any) -> SeqUQLearner:
        """One sub-learner: same engine and tasks, its own id and directory."""
        directory = learner_dir(self, "learner", learner_name)
        sub = SeqUQLearner(self.asyncflow, run_dir=directory, name=self.name)
        adopt_tasks(sub, self, learner_id=learner_name, directory=directory)
        return sub

    def _finish(self) -> None:
        self._stop_reason = combined_stop_reason(sub._stop_reason for sub in self.learners.values())

    def _manifest_extra(self, options: Mapping[str, Any]) -> dict[str, Any]:
        return UQLearner._manifest_extra(self, options)

    def stop(self) -> None:
        """Ask every learner to stop after its current step."""
        super().stop()
        for sub in self.learners.values():
            sub.stop()

    async def teach(  # type: ignore[override]
        self,
        learner_names: Sequence[Any],
        model_names: Sequence[str],
        num_predictions: int = 1,
        max_iter: int = 0,
        skip_pre_loop: bool = False,
        learner_configs: Mapping[Any, LearnerConfig | None] | None = None,
    ) -> list[IterationState]:
        """Deprecated: use ``await learner.start(...)``; final states in ``learner_names`` order."""
        warnings.warn("teach() is deprecated; use `await learner.start(...)`", DeprecationWarning, stacklevel=2)
        finals: list[IterationState] = await self.start(
            learner_names, model_names, num_predictions, max_iter, skip_pre_loop, learner_configs
        )
        by_id = {state.learner_id: state for state in finals}
        return [by_id[name] for name in learner_names if name in by_id]
