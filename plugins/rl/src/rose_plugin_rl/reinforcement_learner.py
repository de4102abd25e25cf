"""Reinforcement learners: sequential, parallel, and parallel environments with merged experience.

Import them as ``from rose.rl.reinforcement_learner import SequentialReinforcementLearner,
ParallelReinforcementLearner, ParallelExperience`` (or from ``rose.rl``).

Argument passing (for function tasks; executable tasks may ignore their arguments):

* an environment task receives the previous update's result (nothing before the first
  update);
* the update task receives the environment's result (sequential) or the merged bank's
  path (ParallelExperience);
* the stop criterion receives the update's result.

Configuration arguments (``TaskConfig.args``) come first, then these upstream values.
"""

from __future__ import annotations

import asyncio
import logging
import os
import warnings
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from attrs import evolve

from rose.config import LearnerConfig, check_learner_config
from rose.errors import ResourceError, RoseError
from rose.learner import Learner, TaskKind
from rose.records import Resources
from rose.state import IterationState
from rose.streaming import LearnerRun, stream_learners
from rose.tasks import TaskSpec
from rose_plugin_rl.errors import EnvironmentTaskError
from rose_plugin_rl.merge import MERGED_BANK_NAME, MergeReport, bank_file_for, merge_banks

__all__ = [
    "DEFAULT_MERGED_BANK_MAX_SIZE",
    "ParallelExperience",
    "ParallelReinforcementLearner",
    "ReinforcementLearner",
    "SequentialReinforcementLearner",
]

logger = logging.getLogger(__name__)

#: default cap of ParallelExperience's merged bank (newest experiences are kept)
DEFAULT_MERGED_BANK_MAX_SIZE = 100_000


class ReinforcementLearner(Learner):
    """Base of the RL learners: adds ``@learner.environment_task`` and ``@learner.update_task``."""

    environment_task = TaskKind("environment")
    update_task = TaskKind("update")

    def _backend_accepts(self, resources: Resources) -> bool:
        """True when this learner's backend can run a task with ``resources`` (cwd, env...)."""
        if self._translate is None:
            from rose.engine import translator_for

            self._translate = translator_for(self.asyncflow)
        try:
            self._translate(f"{self.name}-probe", resources, False)
        except ResourceError:
            return False
        return True


class SequentialReinforcementLearner(ReinforcementLearner):
    """environment -> update -> criterion, repeated.

    Before the loop (unless ``skip_pre_loop``) the environment and update tasks run for
    iteration 0. Each iteration ``i`` then runs the criterion (if any) on the update's
    result and yields its state; the next environment and update tasks (config ``i + 1``)
    run only when another iteration follows. Without a stop criterion the loop runs
    ``max_iter`` iterations. ``skip_environment_step=True`` runs only the update task
    (experience comes from elsewhere, e.g. a pool filled by another process).
    """

    required_tasks = ("update",)

    def validate(
        self,
        max_iter: int = 0,
        skip_pre_loop: bool = False,
        skip_environment_step: bool = False,
        initial_config: LearnerConfig | None = None,
        **options: Any,
    ) -> None:
        """Check tasks, ``max_iter``/criterion and the configuration before running."""
        if not skip_environment_step and not self.has_task("environment"):
            raise ValueError(
                f"{type(self).__name__} needs an environment task (@learner.environment_task) unless "
                f"start(skip_environment_step=True) is used with external experience"
            )
        check_learner_config(initial_config, "initial_config")
        super().validate(max_iter=max_iter)

    def start(
        self,
        max_iter: int = 0,
        skip_pre_loop: bool = False,
        skip_environment_step: bool = False,
        initial_config: LearnerConfig | None = None,
    ) -> LearnerRun:
        """Run the loop: ``async for state in learner.start(max_iter=10)`` or ``await`` it."""
        self.validate(max_iter, skip_pre_loop, skip_environment_step, initial_config)
        return LearnerRun(
            lambda: self.run_campaign(
                self._iterate(max_iter, skip_pre_loop, skip_environment_step, initial_config),
                max_iter=max_iter,
            )
        )

    async def _iterate(
        self,
        max_iter: int,
        skip_pre_loop: bool,
        skip_environment_step: bool,
        config: LearnerConfig | None,
    ) -> AsyncIterator[IterationState]:
        use_env = not skip_environment_step
        env_result: Any = None
        update_result: Any = None
        have_update = False
        if not skip_pre_loop:
            if use_env:
                env_result = await self.run_task("environment", iteration=0, config=config)
                update_result = await self.run_task("update", iteration=0, config=config, deps=(env_result,))
            else:
                update_result = await self.run_task("update", iteration=0, config=config)
            have_update = True
        i = 0
        while max_iter == 0 or i < max_iter:
            if self.is_stopped:
                self._stop_reason = "stopped"
                return
            config = self.take_pending_config(config)
            self.clear_state()
            for upstream in (env_result, update_result):
                if isinstance(upstream, Mapping):
                    self._extract_state_from_result(upstream)
            previous: tuple[Any, ...] = (update_result,) if have_update else ()
            should_stop, value = await self.check_criterion(i, config, previous)
            state = self.build_iteration_state(i, value, should_stop, config)
            yield state
            if self.ends_after(state, max_iter):
                return
            config = self.take_pending_config(config)
            previous = (update_result,) if have_update else ()
            if use_env:
                env_result = await self.run_task("environment", iteration=i + 1, config=config, deps=previous)
                update_result = await self.run_task("update", iteration=i + 1, config=config, deps=(env_result,))
            else:
                update_result = await self.run_task("update", iteration=i + 1, config=config, deps=previous)
            have_update = True
            i += 1
        self._stop_reason = "max_iter_reached"

    async def learn(
        self,
        max_iter: int = 0,
        skip_pre_loop: bool = False,
        skip_simulation_step: bool = False,
        learner_config: LearnerConfig | None = None,
        *,
        skip_environment_step: bool = False,
    ) -> IterationState | None:
        """Deprecated: use ``await learner.start(...)``; returns the final state.

        ``skip_simulation_step`` is the old name of ``skip_environment_step``.
        """
        warnings.warn("learn() is deprecated; use `await learner.start(...)`", DeprecationWarning, stacklevel=2)
        result: IterationState | None = await self.start(
            max_iter, skip_pre_loop, skip_environment_step or skip_simulation_step, learner_config
        )
        return result


class ParallelReinforcementLearner(ReinforcementLearner):
    """Several independent :class:`SequentialReinforcementLearner` loops at once.

    ``await learner.start(parallel_learners=3, max_iter=10, learner_configs=[...])``
    returns the final state of each learner; ``async for`` streams every learner's states
    tagged with ``learner_id`` (0, 1, ...). Each learner gets its own configuration,
    directory ``<run_dir>/learner-<id>`` (its journal, and the working directory of its
    executable tasks when the backend can set one) and stop criterion evaluation. One
    learner's failure does not stop the others (unless ``fail_fast=True``); the failures
    are raised together at the end.
    """

    required_tasks = ("update",)

    def validate(  # type: ignore[override]
        self,
        parallel_learners: int = 2,
        max_iter: int = 0,
        skip_pre_loop: bool = False,
        skip_environment_step: bool = False,
        learner_configs: Sequence[LearnerConfig | None] | None = None,
        **options: Any,
    ) -> None:
        """Check the learner count, tasks, ``max_iter``/criterion and configurations."""
        if isinstance(parallel_learners, bool) or not isinstance(parallel_learners, int) or parallel_learners < 2:
            raise ValueError(
                f"For single learner, use SequentialReinforcementLearner (parallel_learners must be "
                f">= 2, got {parallel_learners!r})"
            )
        if not skip_environment_step and not self.has_task("environment"):
            raise ValueError(
                f"{type(self).__name__} needs an environment task (@learner.environment_task) unless "
                f"start(skip_environment_step=True) is used with external experience"
            )
        if learner_configs is not None:
            if isinstance(learner_configs, (str, bytes)) or not isinstance(learner_configs, Sequence):
                raise TypeError(f"learner_configs must be a list of LearnerConfig (or None), got {learner_configs!r}")
            if len(learner_configs) != parallel_learners:
                raise ValueError(
                    f"learner_configs has {len(learner_configs)} entries but parallel_learners="
                    f"{parallel_learners}; give one LearnerConfig (or None) per learner"
                )
            for index, config in enumerate(learner_configs):
                check_learner_config(config, f"learner_configs[{index}]")
        super().validate(max_iter=max_iter)

    def start(
        self,
        parallel_learners: int = 2,
        max_iter: int = 0,
        skip_pre_loop: bool = False,
        skip_environment_step: bool = False,
        learner_configs: Sequence[LearnerConfig | None] | None = None,
        *,
        fail_fast: bool = False,
    ) -> LearnerRun:
        """Run the learners: ``async for`` streams states, ``await`` returns the final states."""
        self.validate(parallel_learners, max_iter, skip_pre_loop, skip_environment_step, learner_configs)
        configs: list[LearnerConfig | None] = (
            list(learner_configs) if learner_configs is not None else [None] * parallel_learners
        )
        return LearnerRun(
            lambda: self.run_campaign(
                self._iterate(parallel_learners, max_iter, skip_pre_loop, skip_environment_step, configs, fail_fast),
                max_iter=max_iter,
                parallel_learners=parallel_learners,
                learner_configs=configs,
            ),
            parallel=True,
        )

    def _manifest_extra(self, options: Mapping[str, Any]) -> dict[str, Any]:
        configs = options.get("learner_configs") or []
        return {
            "parallel_count": options.get("parallel_learners"),
            "learner_configs": [c.to_dict() if c is not None else None for c in configs],
        }

    def _create_sequential_learner(self, learner_id: int, config: LearnerConfig | None = None) -> SequentialReinforcementLearner:
        """Learner ``learner_id``: shares this learner's tasks, criterion and engine (``config`` is given at start)."""
        directory = os.path.join(self.run_dir, f"learner-{learner_id}")
        learner = SequentialReinforcementLearner(self.asyncflow, run_dir=directory, name=self.name)
        learner.inherit(self, learner_id=learner_id)
        return learner

    def stop(self) -> None:
        """Ask every learner to stop after its current step."""
        super().stop()
        for learner in getattr(self, "_learners", ()):
            learner.stop()

    async def _iterate(
        self,
        parallel_learners: int,
        max_iter: int,
        skip_pre_loop: bool,
        skip_environment_step: bool,
        configs: list[LearnerConfig | None],
        fail_fast: bool,
    ) -> AsyncIterator[IterationState]:
        learners = [self._create_sequential_learner(i, configs[i]) for i in range(parallel_learners)]
        self._learners = learners
        place_cwd = self._backend_accepts(Resources(cwd=learners[0].run_dir))
        if not place_cwd:
            logger.info(
                "[%s] the backend cannot set a task's working directory: the %d learners' executable "
                "tasks share the current directory", self._label(), parallel_learners,
            )
        for learner in learners:
            await asyncio.to_thread(os.makedirs, learner.run_dir, exist_ok=True)
            if place_cwd:
                learner.task_cwd = learner.run_dir
        logger.info("[%s] starting %d parallel reinforcement learners", self._label(), parallel_learners)
        runs = [
            (
                learner.learner_id,
                learner.run_campaign(
                    learner._iterate(max_iter, skip_pre_loop, skip_environment_step, configs[index]),
                    max_iter=max_iter,
                ),
            )
            for index, learner in enumerate(learners)
        ]
        async for state in stream_learners(runs, fail_fast=fail_fast, label="RLLearner"):
            index = state.learner_id
            if isinstance(index, int) and 0 <= index < len(learners):
                self.metric_values_per_iteration[f"learner-{index}"] = learners[index].get_metric_results()
            self._iteration_state = state
            yield state
        reasons = {learner._stop_reason for learner in learners}
        if reasons == {"criterion_met"}:
            self._stop_reason = "criterion_met"
        elif "stopped" in reasons or self.is_stopped:
            self._stop_reason = "stopped"
        else:
            self._stop_reason = "max_iter_reached"

    async def learn(
        self,
        parallel_learners: int = 2,
        max_iter: int = 0,
        skip_pre_loop: bool = False,
        learner_configs: Sequence[LearnerConfig | None] | None = None,
    ) -> list[IterationState]:
        """Deprecated: use ``await learner.start(...)``; returns each learner's final state."""
        warnings.warn("learn() is deprecated; use `await learner.start(...)`", DeprecationWarning, stacklevel=2)
        result: list[IterationState] = await self.start(
            parallel_learners, max_iter, skip_pre_loop, learner_configs=learner_configs
        )
        return result


class ParallelExperience(ReinforcementLearner):
    """Several named environment tasks per iteration, their experience merged, one update.

    ``@pe.environment_task(name="env_1")`` registers an environment (one per name). Each
    iteration runs every environment concurrently, merges the banks they write into the
    learner's working directory (:attr:`work_dir`) into ``experience_bank.npz`` (keeping
    earlier iterations' experience up to ``merged_bank_max_size``, newest kept), runs the
    update task once, then the stop criterion. A failing environment ends the campaign
    with an :class:`~rose_plugin_rl.errors.EnvironmentTaskError` naming it.

    Executable tasks run in :attr:`work_dir` and see ``ROSE_WORK_DIR``, ``ROSE_TASK_NAME``,
    ``ROSE_ITERATION`` and ``ROSE_MERGED_BANK``; environment tasks also ``ROSE_BANK_FILE``
    (``<work_dir>/experience_bank_<name>.npz``), where ``ExperienceBank.save()`` writes by
    default. Function tasks read ``pe.work_dir``. Configure one environment with
    ``LearnerConfig(tasks={"env_1": TaskConfig(...)})``; ``LearnerConfig(environment=...)``
    applies to every environment without its own entry.
    """

    environment_task = TaskKind("environment", named=True)
    required_tasks = ("environment", "update")

    def __init__(
        self,
        asyncflow: Any = None,
        *,
        run_dir: str | os.PathLike[str] | None = None,
        name: str | None = None,
        work_dir: str | os.PathLike[str] | None = None,
        merged_bank_max_size: int | None = DEFAULT_MERGED_BANK_MAX_SIZE,
    ) -> None:
        super().__init__(asyncflow, run_dir=run_dir, name=name)
        if merged_bank_max_size is not None and (
            isinstance(merged_bank_max_size, bool) or not isinstance(merged_bank_max_size, int) or merged_bank_max_size < 1
        ):
            raise ValueError(
                f"merged_bank_max_size must be a whole number >= 1 or None (unbounded), got {merged_bank_max_size!r}"
            )
        self.merged_bank_max_size = merged_bank_max_size
        self._work_dir = os.path.abspath(os.fspath(work_dir)) if work_dir is not None else None
        self.last_merge: MergeReport | None = None

    @property
    def work_dir(self) -> str:
        """Where environment banks and the merged bank live (default ``<run_dir>/work``)."""
        if self._work_dir is None:
            return os.path.join(self.run_dir, "work")
        return self._work_dir

    @work_dir.setter
    def work_dir(self, value: str | os.PathLike[str]) -> None:
        self._work_dir = os.path.abspath(os.fspath(value))

    @property
    def merged_bank_path(self) -> str:
        """The merged bank the update task reads: ``<work_dir>/experience_bank.npz``."""
        return os.path.join(self.work_dir, MERGED_BANK_NAME)

    @property
    def environment_names(self) -> list[str]:
        """The registered environment tasks, in registration order."""
        return [spec.name for spec in self.tasks_of("environment")]

    def bank_file(self, environment: str) -> str:
        """The bank file environment task ``environment`` writes (its ``$ROSE_BANK_FILE``)."""
        return bank_file_for(self.work_dir, environment)

    def validate(
        self,
        max_iter: int = 0,
        skip_pre_loop: bool = False,
        initial_config: LearnerConfig | None = None,
        **options: Any,
    ) -> None:
        """Check environments, update task, ``max_iter``/criterion and that the backend fits."""
        if not self.has_task("environment"):
            raise ValueError(
                "ParallelExperience needs at least one environment task: "
                "@pe.environment_task(name='env_1') async def env_1(*args): ..."
            )
        check_learner_config(initial_config, "initial_config")
        super().validate(max_iter=max_iter)
        executables = [spec.name for spec in self.tasks.values() if spec.as_executable]
        if executables and not self._backend_accepts(
            Resources(cwd=self.work_dir, env={"ROSE_WORK_DIR": self.work_dir})
        ):
            raise RoseError(
                f"ParallelExperience runs its executable tasks {executables} in its working directory "
                f"{self.work_dir} with ROSE_* environment variables so their experience banks can be "
                f"merged, but this engine's backend cannot set a task's working directory or environment. "
                f"Use `engine = await rose.engine('local')`, or make the tasks function tasks "
                f"(as_executable=False) that save to pe.work_dir."
            )

    def start(
        self,
        max_iter: int = 0,
        skip_pre_loop: bool = False,
        initial_config: LearnerConfig | None = None,
    ) -> LearnerRun:
        """Run the loop: ``async for state in pe.start(max_iter=10)`` or ``await`` it."""
        self.validate(max_iter, skip_pre_loop, initial_config)
        return LearnerRun(
            lambda: self.run_campaign(self._iterate(max_iter, skip_pre_loop, initial_config), max_iter=max_iter)
        )

    def _manifest_extra(self, options: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "extra": {
                "environments": self.environment_names,
                "work_dir": self.work_dir,
                "merged_bank": self.merged_bank_path,
                "merged_bank_max_size": self.merged_bank_max_size,
            }
        }

    async def submit(
        self, spec: TaskSpec, args: Sequence[Any], kwargs: Mapping[str, Any], *, iteration: int | None = None
    ) -> Any:
        """Run ``spec``; executable tasks get the ``ROSE_*`` variables describing where to work."""
        if spec.as_executable:
            env = {
                "ROSE_WORK_DIR": self.work_dir,
                "ROSE_TASK_NAME": spec.name,
                "ROSE_ITERATION": "" if iteration is None else str(iteration),
                "ROSE_MERGED_BANK": self.merged_bank_path,
            }
            if spec.kind == "environment":
                env["ROSE_BANK_FILE"] = self.bank_file(spec.name)
            spec = evolve(spec, resources=evolve(spec.resources, env={**spec.resources.env, **env}))
        return await super().submit(spec, args, kwargs, iteration=iteration)

    async def run_environments(
        self, iteration: int, config: LearnerConfig | None = None, deps: Sequence[Any] = ()
    ) -> dict[str, Any]:
        """Run every environment task of ``iteration`` concurrently; returns results by name.

        Every environment runs to completion; if any failed, raises
        :class:`EnvironmentTaskError` naming each failed environment.
        """
        names = self.environment_names
        results = await asyncio.gather(
            *(self.run_task(name, iteration=iteration, config=config, deps=deps, record_state=False) for name in names),
            return_exceptions=True,
        )
        failures: dict[str, BaseException] = {}
        for name, result in zip(names, results):
            if isinstance(result, asyncio.CancelledError):
                raise result
            if isinstance(result, BaseException):
                if not isinstance(result, Exception):
                    raise result
                logger.error("[%s] environment %r failed at iteration %d: %s", self._label(), name, iteration, result)
                failures[name] = result
        if failures:
            raise EnvironmentTaskError(self._label(), iteration, failures) from next(iter(failures.values()))
        return dict(zip(names, results))

    async def merge_banks(self) -> MergeReport:
        """Merge the environment banks in :attr:`work_dir` (file work runs in a thread)."""
        report = await asyncio.to_thread(
            merge_banks, self.work_dir, self.environment_names, max_size=self.merged_bank_max_size
        )
        self.last_merge = report
        logger.info(
            "[%s] merged %d new experiences from %s into %s (%d total%s)",
            self._label(), report.new, ", ".join(f"{k}={v}" for k, v in report.by_source.items()),
            report.path, report.total, f", {report.dropped} oldest dropped" if report.dropped else "",
        )
        return report

    async def _collect(
        self, iteration: int, config: LearnerConfig | None, deps: Sequence[Any]
    ) -> tuple[dict[str, Any], MergeReport, Any]:
        env_results = await self.run_environments(iteration, config, deps)
        report = await self.merge_banks()
        update_result = await self.run_task("update", iteration=iteration, config=config, deps=(report.path,))
        return env_results, report, update_result

    def _record(self, env_results: Mapping[str, Any], report: MergeReport | None, update_result: Any) -> None:
        for name, result in env_results.items():
            if isinstance(result, Mapping):
                self.register_state(name, dict(result))
        if report is not None:
            self.register_state("experience_new", report.new)
            self.register_state("experience_total", report.total)
            self.register_state("experience_by_environment", dict(report.by_source))
            self.register_state("experience_bank", report.path)
        if isinstance(update_result, Mapping):
            self._extract_state_from_result(update_result)

    async def _iterate(
        self, max_iter: int, skip_pre_loop: bool, config: LearnerConfig | None
    ) -> AsyncIterator[IterationState]:
        work_dir = self.work_dir
        await asyncio.to_thread(os.makedirs, work_dir, exist_ok=True)
        self.task_cwd = work_dir
        env_results: dict[str, Any] = {}
        report: MergeReport | None = None
        update_result: Any = None
        have_update = False
        if not skip_pre_loop:
            env_results, report, update_result = await self._collect(0, config, ())
            have_update = True
        i = 0
        while max_iter == 0 or i < max_iter:
            if self.is_stopped:
                self._stop_reason = "stopped"
                return
            config = self.take_pending_config(config)
            self.clear_state()
            self._record(env_results, report, update_result)
            previous: tuple[Any, ...] = (update_result,) if have_update else ()
            should_stop, value = await self.check_criterion(i, config, previous)
            state = self.build_iteration_state(i, value, should_stop, config)
            yield state
            if self.ends_after(state, max_iter):
                return
            config = self.take_pending_config(config)
            previous = (update_result,) if have_update else ()
            env_results, report, update_result = await self._collect(i + 1, config, previous)
            have_update = True
            i += 1
        self._stop_reason = "max_iter_reached"

    async def learn(
        self,
        max_iter: int = 0,
        skip_pre_loop: bool = False,
        learner_config: LearnerConfig | None = None,
    ) -> IterationState | None:
        """Deprecated: use ``await pe.start(...)``; runs to the end and returns the final state."""
        warnings.warn("learn() is deprecated; use `await pe.start(...)`", DeprecationWarning, stacklevel=2)
        result: IterationState | None = await self.start(max_iter, skip_pre_loop, learner_config)
        return result
