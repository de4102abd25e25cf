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
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from attrs import evolve, frozen

from rose.config import LearnerConfig
from rose.errors import RoseError
from rose.fanout import ParallelCopies, ParallelOptions
from rose.learner import Learner, Outcome, Step, TaskKind
from rose.legacy import OldRunNames
from rose.names import check_distinct
from rose.options import StartOptions
from rose.records import Resources
from rose.steps import Plan
from rose.tasks import TaskSpec
from rose_plugin_rl.config import ReinforcementLearnerConfig
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
    """Base of the RL learners: adds ``@learner.environment_task`` and ``@learner.update_task``; its
    configuration class is :class:`~rose_plugin_rl.config.ReinforcementLearnerConfig`."""

    config_class: ClassVar[type[LearnerConfig]] = ReinforcementLearnerConfig
    environment_task = TaskKind("environment")
    update_task = TaskKind("update")


def require_environment(learner: Learner, skip_environment_step: bool) -> None:
    """An environment task must be registered unless ``skip_environment_step``."""
    if not skip_environment_step and not learner.has_task("environment"):
        raise ValueError(
            f"{type(learner).__name__} needs an environment task (@learner.environment_task) unless "
            f"start(skip_environment_step=True) is used with external experience"
        )


@frozen(kw_only=True)
class SequentialRLOptions(StartOptions):
    """``start()`` options of :class:`SequentialReinforcementLearner`: ``skip_environment_step``
    runs only the update task (experience comes from elsewhere)."""

    skip_environment_step: bool = False


@frozen(kw_only=True)
class ParallelRLOptions(ParallelOptions):
    """``start()`` options of :class:`ParallelReinforcementLearner` (with every child's
    ``skip_environment_step``)."""

    skip_environment_step: bool = False


class SequentialReinforcementLearner(ReinforcementLearner, OldRunNames):
    """environment -> update -> criterion, repeated.

    Each iteration ``i`` runs the environment and update tasks (config ``i``; skipped for
    iteration 0 with ``skip_pre_loop=True``), then the criterion (if any) on the update's
    result. Without a stop criterion the loop runs ``max_iter`` iterations.
    ``skip_environment_step=True`` runs only the update task (experience comes from
    elsewhere, e.g. a pool filled by another process).
    """

    required_tasks = ("update",)

    options_class = SequentialRLOptions
    start_positional = ("max_iter", "skip_pre_loop", "skip_environment_step", "initial_config", "resume")
    old_positional = ("max_iter", "skip_pre_loop", "skip_simulation_step", "initial_config")
    old_keywords = {**OldRunNames.old_keywords, "skip_simulation_step": "skip_environment_step"}

    def validate(self, max_iter: int = 0, **options: Any) -> None:
        """Check tasks and ``max_iter``/criterion before running."""
        require_environment(self, bool(options.get("skip_environment_step")))
        super().validate(max_iter)

    async def prepare(self, step: Step) -> tuple[Any, ...]:
        """The environment (given the previous update's result), then the update on its result."""
        previous = tuple(step.inputs or ())
        if step.options.get("skip_environment_step"):
            return (await step.run("update", *previous),)
        experience = await step.run("environment", *previous)
        return (await step.run("update", experience),)

    async def evaluate(self, step: Step) -> Outcome:
        """The criterion on the update's result."""
        updated = tuple(step.inputs or ())
        met, value = await step.criterion(*updated)
        return Outcome(metric_value=value, should_stop=met, carry=updated)


class ParallelReinforcementLearner(ParallelCopies, ReinforcementLearner, OldRunNames):
    """Several independent :class:`SequentialReinforcementLearner` loops at once.

    ``await learner.start(parallel_learners=3, max_iter=10, learner_configs=[...])``
    returns the final state of each learner; ``async for`` streams every learner's states
    tagged with ``learner_id`` (0, 1, ...). Each learner gets its own configuration,
    directory ``<run_dir>/learner-<id>`` (its journal, and the working directory of its
    tasks) and stop criterion evaluation. One learner's failure does not stop the others
    (unless ``fail_fast=True``); the failures are raised together at the end.
    """

    required_tasks = ("update",)
    child_class = SequentialReinforcementLearner
    options_class = ParallelRLOptions
    start_positional = ("parallel_learners", "max_iter", "skip_pre_loop", "skip_environment_step", "learner_configs")
    old_positional = ("parallel_learners", "max_iter", "skip_pre_loop", "learner_configs")

    def validate(self, max_iter: int = 0, **options: Any) -> None:
        """Check the learner count, tasks and ``max_iter``/criterion."""
        super().validate(max_iter, **options)
        require_environment(self, bool(options.get("skip_environment_step")))


class ParallelExperience(ReinforcementLearner, OldRunNames):
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

    def validate(self, max_iter: int = 0, **options: Any) -> None:
        """Check environments, update task, ``max_iter``/criterion and that the backend fits."""
        if not self.has_task("environment"):
            raise ValueError(
                "ParallelExperience needs at least one environment task: "
                "@pe.environment_task(name='env_1') async def env_1(*args): ..."
            )
        check_distinct(self.environment_names, "environment")
        super().validate(max_iter=max_iter)
        executables = [spec.name for spec in self.tasks.values() if spec.as_executable]
        if executables and not self.backend_accepts(
            Resources(cwd=self.work_dir, env={"ROSE_WORK_DIR": self.work_dir})
        ):
            raise RoseError(
                f"ParallelExperience runs its executable tasks {executables} in its working directory "
                f"{self.work_dir} with ROSE_* environment variables so their experience banks can be "
                f"merged, but this engine's backend cannot set a task's working directory or environment. "
                f"Use `engine = await rose.engine('local')`, or make the tasks function tasks "
                f"(as_executable=False) that save to pe.work_dir."
            )

    def manifest_extra(self, plan: Plan) -> dict[str, Any]:
        """The environments, working directory and merged bank of this campaign."""
        return {
            **plan.manifest,
            "extra": {
                "environments": self.environment_names,
                "work_dir": self.work_dir,
                "merged_bank": self.merged_bank_path,
                "merged_bank_max_size": self.merged_bank_max_size,
            },
        }

    async def submit(
        self,
        spec: TaskSpec,
        args: Sequence[Any],
        kwargs: Mapping[str, Any],
        *,
        iteration: int | None = None,
        key: str = "",
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
        return await super().submit(spec, args, kwargs, iteration=iteration, key=key)

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
                logger.error("[%s] environment %r failed at iteration %d: %s", self.label, name, iteration, result)
                failures[name] = result
        if failures:
            raise EnvironmentTaskError(self.label, iteration, failures) from next(iter(failures.values()))
        return dict(zip(names, results))

    async def merge_banks(self, tag: str | None = None) -> MergeReport:
        """Merge the environment banks in :attr:`work_dir` (file work runs in a thread).

        With a ``tag`` (the loop passes the iteration) a merge happens once per tag, even
        when the campaign is killed during it and resumed.
        """
        report = await asyncio.to_thread(
            merge_banks, self.work_dir, self.environment_names, max_size=self.merged_bank_max_size, tag=tag,
            record_dir=os.path.join(self.run_dir, "merges"),
        )
        self.last_merge = report
        logger.info(
            "[%s] merged %d new experiences from %s into %s (%d total%s)",
            self.label, report.new, ", ".join(f"{k}={v}" for k, v in report.by_source.items()),
            report.path, report.total, f", {report.dropped} oldest dropped" if report.dropped else "",
        )
        return report

    async def prepare(self, step: Step) -> tuple[Any, ...]:
        """Every environment at once, the merge of their banks, then the update on the merged bank."""
        await asyncio.to_thread(os.makedirs, self.work_dir, exist_ok=True)
        self.task_cwd = self.work_dir
        env_results = await self.run_environments(step.iteration, step.config, tuple(step.inputs or ()))
        report = await self.merge_banks(tag=f"iteration-{step.iteration}")
        for name, result in env_results.items():
            if isinstance(result, Mapping):
                self.register_state(name, dict(result))
        self.register_state("experience_new", report.new)
        self.register_state("experience_total", report.total)
        self.register_state("experience_by_environment", dict(report.by_source))
        self.register_state("experience_bank", report.path)
        return (await step.run("update", report.path),)

    async def evaluate(self, step: Step) -> Outcome:
        """The criterion on the update's result."""
        updated = tuple(step.inputs or ())
        met, value = await step.criterion(*updated)
        return Outcome(metric_value=value, should_stop=met, carry=updated)
