"""``AlgorithmSelector``: run several active-learning algorithms and pick the best."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

from attrs import evolve, frozen

from rose.errors import LearnerFailedError
from rose.fanout import Child, configs_manifest, configs_per_child, fan_out, make_child_learner
from rose.learner import Learner, TaskKind
from rose.legacy import OldRunNames
from rose.metrics import direction_of
from rose.names import check_distinct
from rose.options import StartOptions, configuration
from rose.steps import Plan
from rose.streaming import LearnerRun
from rose_plugin_al.kind import ActiveLearnTasks
from rose_plugin_al.sequential import SequentialActiveLearner, require_simulation

__all__ = ["AlgorithmSelector", "SelectionRun"]

logger = logging.getLogger("rose_plugin_al")


class SelectionRun(LearnerRun):
    """What ``AlgorithmSelector.start(...)`` returns.

    ``await`` it for the selection (``{"algorithm_results", "best_algorithm",
    "best_stats"}``) or iterate it with ``async for`` to see every algorithm's states
    (``state.learner_id`` is the algorithm's name); afterwards the selection is in
    ``selector.get_best_algorithm()`` and ``selector.algorithm_results``.
    """


@frozen(kw_only=True)
class SelectorOptions(StartOptions):
    """``start()`` options of :class:`AlgorithmSelector`: per-algorithm configurations (a dict by
    name), ``skip_simulation_step`` and ``fail_fast``."""

    algorithm_configs: Any = configuration()
    skip_simulation_step: bool = False
    fail_fast: bool = False


class AlgorithmSelector(ActiveLearnTasks, Learner, OldRunNames):
    """Run one active-learning pipeline per algorithm, concurrently, and pick the best.

    Register several algorithms with ``@sel.active_learn_task(name="algo_1")`` (function
    or executable tasks); they share the simulation, training and criterion tasks. Each
    algorithm runs its own sequential loop in its own working directory
    ``<run_dir>/algorithm-<name>``. The best algorithm has the best final criterion
    value in the metric's own direction (lowest MSE, highest accuracy); ties go to the one
    that needed fewer iterations. Without a criterion, fewer iterations wins.
    """

    active_learn_task = TaskKind("active_learn", named=True)
    required_tasks = ("training",)

    def __init__(self, asyncflow: Any = None, **options: Any) -> None:
        super().__init__(asyncflow, **options)
        self.algorithm_results: dict[str, dict[str, Any]] = {}
        self.best_pipeline_name: str | None = None
        self.best_pipeline_stats: dict[str, Any] | None = None
        self._failures: dict[Any, BaseException] = {}
        self._fail_fast = False

    @property
    def learners(self) -> dict[Any, Learner]:
        """The algorithms' learners of the current (or last) run, by algorithm name."""
        return {child.learner_id: child for child in self.children}

    @property
    def algorithms(self) -> list[str]:
        """The names of the registered algorithms, in registration order."""
        return [spec.name for spec in self.tasks_of("active_learn")]

    options_class = SelectorOptions
    start_positional = ("max_iter", "skip_pre_loop", "algorithm_configs")

    def validate(self, max_iter: int = 0, **options: Any) -> None:
        """Check tasks, algorithms, ``algorithm_configs`` and max_iter/criterion."""
        if not self.algorithms:
            raise ValueError(
                "AlgorithmSelector needs at least one algorithm: register each with "
                "@selector.active_learn_task(name='algo_1')"
            )
        check_distinct(self.algorithms, "algorithm")
        self.check_tasks(self.required_tasks)
        require_simulation(self, bool(options.get("skip_simulation_step")))
        super().validate(max_iter)
        configs = options.get("algorithm_configs")
        if configs is not None and not isinstance(configs, Mapping):
            raise TypeError(f"algorithm_configs must be a dict {{algorithm name: LearnerConfig}}, got {configs!r}")

    def launch(self, plan: Plan) -> SelectionRun:
        """Run every algorithm: ``result = await sel.start(max_iter=5)`` or ``async for``.

        An algorithm that fails is logged with its name, recorded with its error in
        ``algorithm_results`` and left out of the selection; the others go on
        (``fail_fast=True`` stops all instead). If every algorithm fails the run raises
        :class:`rose.errors.LearnerFailedError`. ``resume=RUN_DIR`` continues an interrupted
        selection: each algorithm resumes from its own journal.
        """
        names = self.algorithms
        configs = configs_per_child(names, plan.options["algorithm_configs"], owner="AlgorithmSelector",
                                    what="algorithm_configs", noun="algorithm")
        plan = evolve(plan, manifest={**configs_manifest(configs), "extra": {"algorithms": names}})
        skip_simulation_step = plan.options["skip_simulation_step"]
        logger.info("Starting algorithm selection over %s", ", ".join(names))
        self.algorithm_results, self.best_pipeline_name, self.best_pipeline_stats = {}, None, None
        self._failures, self._fail_fast = {}, plan.options["fail_fast"]

        def make_child(name: Any, directory: str) -> Child:
            child = make_child_learner(self, SequentialActiveLearner, name, directory)
            for other in names:
                del child.tasks[other]
            child.tasks["active_learn"] = self.tasks[name]
            return Child(
                learner_id=name, learner=child,
                start=lambda resume_dir: child.start(plan.max_iter, plan.skip_pre_loop, skip_simulation_step,
                                                     configs[name], resume=resume_dir, deadline=plan.deadline),
            )

        run = fan_out(self, plan, names, make_child, prefix="algorithm", what="algorithm",
                      fail_fast=self._fail_fast, tolerate=self._tolerate, on_end=self._record_results)
        return SelectionRun(run.factory, parallel=True, result=lambda _finals: self.selection())

    def _tolerate(self, error: LearnerFailedError) -> bool:
        self._failures = dict(error.failures)
        return not self._fail_fast and len(self._failures) < len(self.learners)

    def _record_results(self) -> None:
        results: dict[str, dict[str, Any]] = {}
        for name, sub in self.learners.items():
            final = sub.get_current_state()
            entry: dict[str, Any] = {
                "iterations": final.iteration + 1 if final is not None else 0,
                "last_result": final.metric_value if final is not None else None,
                "metric_history": list(sub.metric_history),
                "stop_reason": sub.stop_reason,
                "run_dir": sub.run_dir,
            }
            if name in self._failures:
                entry["stop_reason"] = "error"
                entry["error"] = f"{type(self._failures[name]).__name__}: {self._failures[name]}"
            results[name] = entry
        self.algorithm_results = results
        best = _pick_best(results, self.criterion)
        if best is not None:
            self.best_pipeline_name, self.best_pipeline_stats = best, results[best]
            stats = results[best]
            logger.info(
                "Best algorithm is %r with %d iteration(s) and final metric %s",
                best, stats["iterations"], stats["last_result"],
            )

    def selection(self) -> dict[str, Any]:
        """``{"algorithm_results", "best_algorithm", "best_stats"}`` of the last run."""
        if self.best_pipeline_name is None:
            raise ValueError(
                f"No algorithm completed an iteration successfully: {self.algorithm_results or 'none ran'}"
            )
        return {
            "algorithm_results": dict(self.algorithm_results),
            "best_algorithm": self.best_pipeline_name,
            "best_stats": self.best_pipeline_stats,
        }

    def get_best_algorithm(self) -> tuple[str | None, dict[str, Any] | None]:
        """``(name, stats)`` of the best algorithm of the last run."""
        return self.best_pipeline_name, self.best_pipeline_stats

    def get_all_results(self) -> dict[str, dict[str, Any]]:
        """Every algorithm's result of the last run (a copy)."""
        return {name: dict(stats) for name, stats in self.algorithm_results.items()}


def _pick_best(results: Mapping[str, Mapping[str, Any]], criterion: Any) -> str | None:
    """The best successful algorithm: metric in its direction, then fewer iterations."""
    candidates = [name for name, r in results.items() if "error" not in r and r["iterations"] > 0]
    if not candidates:
        return None
    if criterion is None:
        return min(candidates, key=lambda name: results[name]["iterations"])
    sign = -1.0 if direction_of(criterion.metric_name, criterion.operator) == "max" else 1.0

    def key(name: str) -> tuple[float, int]:
        value = results[name]["last_result"]
        score = math.inf if value is None else sign * float(value)
        return score, int(results[name]["iterations"])

    return min(candidates, key=key)
