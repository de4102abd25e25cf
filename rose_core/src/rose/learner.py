"""The ``Learner`` base class: the API a learning policy is written against.

A policy subclasses :class:`Learner`, implements ``prepare(step)`` and ``evaluate(step)``
(see :mod:`rose.steps`) and declares its ``start()`` options as data (:mod:`rose.options`).
The base class gives it task registration (``@learner.training_task`` and the kinds a plugin
adds, see :mod:`rose.kinds`), the stop criterion, configuration, iteration state (:class:`~rose.state.IterationBook`),
trackers and :meth:`Learner.start` (final), which creates a :class:`~rose.campaign.Campaign`
and runs the one loop of :mod:`rose.loop`. A policy that runs several children uses
:mod:`rose.fanout`. Arrows point one way: policies -> this module -> campaign -> engine, records.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import Any, ClassVar, final

from rose import direct, overrides, taskrun
from rose.campaign import Campaign
from rose.config import AdaptiveSchedule, IterationSchedule, LearnerConfig, TaskConfig
from rose.criterion import check_threshold, criterion_decorator, parse_metric_value
from rose.deadline import campaign_deadline
from rose.errors import ResourceError, RoseError
from rose.kinds import TaskKinds, fit_config, fit_option_configs
from rose.launch import open_campaign, resume_dir
from rose.metrics import compare, resolve_operator
from rose.names import check_plain_name
from rose.options import StartOptions, bind_start
from rose.records import Resources
from rose.resume import ResumePoint
from rose.rundirs import new_run_dir
from rose.state import IterationBook, IterationState
from rose.steps import Outcome, Plan, Step
from rose.streaming import LearnerRun
from rose.tasks import CriterionSpec, TaskKind, TaskSpec

#: ``LearnerConfig``, ``TaskConfig`` and ``IterationState`` stay importable from here (ROSE 0.3 scripts do)
__all__ = [
    "IterationState", "Learner", "LearnerConfig", "Outcome", "Step", "TaskConfig", "TaskKind", "check_threshold",
    "parse_metric_value",
]

logger = logging.getLogger(__name__)


class Learner(TaskKinds, IterationBook):
    """Base of every learner: tasks, criterion, configuration, state, trackers, ``start()``.

    ``asyncflow`` is a radical.asyncflow ``WorkflowEngine`` (``await rose.engine("local")``
    or one built by hand). ``run_dir`` is the campaign directory (journal, results, the
    working directory of the learner's tasks); by default ``runs/<timestamp>-<name>``.
    """

    #: task kinds a subclass requires before ``start`` (checked at start, not lazily)
    required_tasks: ClassVar[tuple[str, ...]] = ()
    #: the policy's own ``start()`` options (an attrs class, see :mod:`rose.options`)
    options_class: ClassVar[type[StartOptions]] = StartOptions
    #: ``start()``'s positional parameters, in order (base parameters and the policy's options)
    start_positional: ClassVar[tuple[str, ...]] = ("max_iter", "skip_pre_loop", "initial_config", "resume")
    #: older keyword names of ``start()`` parameters: ``{"learning_config": "initial_config"}``
    start_aliases: ClassVar[Mapping[str, str]] = {}

    def __init__(self, asyncflow: Any = None, *, run_dir: str | os.PathLike[str] | None = None,
                 name: str | None = None) -> None:
        self.asyncflow = asyncflow
        self.name = check_plain_name(name, "learner") if name is not None else type(self).__name__
        self.learner_id: int | str | None = None
        self.tasks: dict[str, TaskSpec] = {}
        self.criterion: CriterionSpec | None = None
        self.trackers: list[Any] = []
        self.children: list[Learner] = []
        self.iteration = 0
        self.task_cwd: str | None = None
        self.task_listeners: list[Callable[[dict[str, Any]], None]] = []
        #: the latest campaign of this learner (the running one while it runs), None before the first
        self.campaign: Campaign | None = None
        self._init_book()
        self._run_dir = os.path.abspath(os.fspath(run_dir)) if run_dir is not None else None
        self._own_run_dir = run_dir is None
        self._cwd_is_default = False
        self._stop_requested = False
        self._pending_config: LearnerConfig | None = None
        self._translate: Any = None

    # -- the policy protocol (see rose.steps) ---------------------------------------------
    async def prepare(self, step: Step) -> Any:
        """The work that feeds iteration ``step.iteration``; by default the carry passes through."""
        return step.inputs

    async def evaluate(self, step: Step) -> Outcome:
        """The iteration's own work and its criterion (policies must implement it)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement evaluate(step)")

    # -- registering tasks and the criterion ----------------------------------------------
    def add_task(self, spec: TaskSpec, fn: Any) -> Any:
        """Register a built :class:`~rose.tasks.TaskSpec`; returns ``fn`` wrapped to run once on demand."""
        self.tasks[spec.name] = spec

        @functools.wraps(fn)
        def run_now(*args: Any, **kwargs: Any) -> asyncio.Task[Any]:
            """Submit this task now (awaitable arguments are its dependencies); await it for the result."""
            return direct.call_task(self, spec, args, kwargs)

        run_now.spec = spec  # type: ignore[attr-defined]
        return run_now

    def as_stop_criterion(self, metric_name: str, threshold: float, operator: str = "", as_executable: bool = True,
                          **options: Any) -> Callable[..., Any]:
        """Register the stop criterion: stop when ``metric OP threshold`` holds.

        The operator comes from the metric registry for known metrics (``<`` for errors,
        ``>=`` for accuracy); a custom metric name needs ``operator=``. The task returns a
        number, a dict with ``metric_value``, or (executable) prints the number on its last
        non-empty stdout line.
        """
        return criterion_decorator(self, metric_name, threshold, operator, as_executable, options)

    def tasks_of(self, kind: str) -> list[TaskSpec]:
        """Every registered task of ``kind`` in registration order."""
        return [spec for spec in self.tasks.values() if spec.kind == kind]

    def has_task(self, kind: str) -> bool:
        """True when at least one task of ``kind`` is registered."""
        return any(spec.kind == kind for spec in self.tasks.values())

    def create_adaptive_schedule(self, task_name: str, fn: Callable[[int], Any]) -> AdaptiveSchedule:
        """A schedule calling ``fn(iteration)`` lazily for any iteration (no limit)."""
        return AdaptiveSchedule(task_name, fn)

    def create_iteration_schedule(self, task_name: str, schedule: Mapping[Any, Any]) -> IterationSchedule:
        """Checkpoints ``{iteration: {"args":..., "kwargs":...}}`` with ``-1`` as fallback."""
        return IterationSchedule(task_name, schedule)

    # -- running tasks (see rose.taskrun) -------------------------------------------------
    def run_task(self, key: str, *, iteration: int | None = None, config: LearnerConfig | None = None,
                 deps: Sequence[Any] = (), extra_kwargs: Mapping[str, Any] | None = None,
                 record_state: bool = True) -> Coroutine[Any, Any, Any]:
        """Run registered task ``key`` for ``iteration``: ``result = await learner.run_task(...)``.

        Arguments are the configuration's ``args`` followed by ``deps`` (upstream results);
        keyword arguments the configuration's ``kwargs`` plus ``extra_kwargs``. A dict result
        is recorded as iteration state. In a resumed campaign a task that finished before
        the interruption is not run again: its recorded result is returned.
        """
        return taskrun.run_task(self, key, iteration, config, deps, extra_kwargs, record_state)

    def submit(self, spec: TaskSpec, args: Sequence[Any], kwargs: Mapping[str, Any], *,
               iteration: int | None = None, key: str = "") -> Coroutine[Any, Any, Any]:
        """Execute ``spec`` with exactly these arguments on the learner's engine (no replay):
        ``result = await learner.submit(...)``; a subclass may override it with an ``async def``."""
        return taskrun.submit(self, spec, args, kwargs, iteration=iteration, key=key)

    @property
    def running_campaign(self) -> Campaign | None:
        """The campaign that journals this learner's tasks now (None outside a campaign)."""
        campaign = self.campaign
        return campaign if campaign is not None and campaign.active else None

    def translator(self) -> Any:
        """The resource translator of this learner's engine (looked up once, then kept)."""
        if self._translate is None:
            from rose.engine import translator_for

            self._translate = translator_for(self.asyncflow)
        return self._translate

    def in_background(self, awaitable: Awaitable[Any]) -> Any:
        """Run ``awaitable`` (a ``run_task(...)``) alongside the campaign, across iterations;
        the campaign cancels what still runs when it ends."""
        if self.campaign is None:
            raise RoseError(f"{self.name}: in_background() runs tasks of a campaign; call it from prepare/evaluate")
        return self.campaign.in_background(awaitable)

    def on_task_event(self, callback: Callable[[dict[str, Any]], None]) -> None:
        """Call ``callback(event)`` when a task attempt starts and ends (see :mod:`rose.tracking`)."""
        self.task_listeners.append(callback)

    def remove_task_listener(self, callback: Callable[[dict[str, Any]], None]) -> None:
        """Stop calling ``callback`` for task events."""
        if callback in self.task_listeners:
            self.task_listeners.remove(callback)

    def compare_metric(self, metric_name: str, metric_value: float, threshold: float, operator: str = "") -> bool:
        """``metric_value OP threshold`` with the metric's registered (or given) operator."""
        return compare(metric_value, threshold, resolve_operator(metric_name, operator))

    def build_iteration_state(self, iteration: int, metric_value: float | None = None, should_stop: bool = False,
                              current_config: Any = None) -> IterationState:
        """The state this learner yields for ``iteration`` (its metric joins the history)."""
        c = self.criterion
        return self.record_iteration(iteration, metric_value, should_stop, current_config,
                                     (c.metric_name, c.threshold) if c else (None, None))

    # -- control -----------------------------------------------------------------------
    def stop(self) -> None:
        """Ask the learner (and its children) to stop after the current step (``stopped``)."""
        self._stop_requested = True
        for child in self.children:
            child.stop()

    @property
    def is_stopped(self) -> bool:
        """True once ``stop()`` was called."""
        return self._stop_requested

    @property
    def stop_reason(self) -> str | None:
        """How the last campaign ended: criterion_met, max_iter_reached, stopped or error."""
        return self.campaign.stop_reason if self.campaign is not None else None

    @property
    def resume_point(self) -> ResumePoint | None:
        """Where the current (or last) campaign resumed from (None for a fresh campaign)."""
        return self.campaign.point if self.campaign is not None else None

    def get_max_iterations(self) -> int | None:
        """The ``max_iter`` of the running (or last) campaign, ``rose run --max-iter`` applied (0: no limit)."""
        return self.campaign.max_iter if self.campaign is not None else None

    def set_next_config(self, config: LearnerConfig) -> None:
        """Use ``config`` from the next iteration on (a parallel learner's children all take it)."""
        if not isinstance(config, LearnerConfig):
            raise TypeError(f"set_next_config expects a LearnerConfig, got {config!r}")
        self._pending_config = fit_config(config, self, "set_next_config")
        for child in self.children:
            child.set_next_config(config)

    def take_pending_config(self, current: LearnerConfig | None) -> LearnerConfig | None:
        """The pending configuration if one was set (then cleared), else ``current``."""
        if self._pending_config is not None:
            current, self._pending_config = self._pending_config, None
        return current

    def call_criterion(self, spec: CriterionSpec, args: Sequence[Any],
                       kwargs: Mapping[str, Any]) -> asyncio.Task[tuple[bool, float]]:
        """The criterion called directly (a custom loop, see :mod:`rose.direct`): ``stop, value = await ...``."""
        return direct.call_criterion(self, spec, args, kwargs)

    async def shutdown(self, *args: Any, **kwargs: Any) -> None:
        """Record the end of the tasks called directly (a custom loop), then shut the engine down."""
        direct.close(self)
        if self.asyncflow is not None:
            await self.asyncflow.shutdown(*args, **kwargs)

    def add_tracker(self, tracker: Any) -> None:
        """Add a tracker; it receives ``on_start`` when the campaign starts."""
        missing = [m for m in ("on_start", "on_iteration", "on_stop") if not callable(getattr(tracker, m, None))]
        if missing:
            raise TypeError(f"{tracker!r} is not a tracker: it lacks {', '.join(missing)} "
                            f"(subclass rose.tracking.TrackerBase)")
        self.trackers.append(tracker)

    def manifest_extra(self, plan: Plan) -> dict[str, Any]:
        """Manifest fields of this policy (``learner_configs``, ``extra``...): override to add."""
        return dict(plan.manifest)

    # -- the campaign ------------------------------------------------------------------
    @property
    def run_dir(self) -> str:
        """The campaign directory (created when the campaign starts)."""
        if self._run_dir is None:
            self._run_dir = resume_dir(self, overrides.resume_for(self)) or new_run_dir(self.name)  # `rose run --resume`
        return self._run_dir

    @property
    def label(self) -> str:
        """How log lines name this learner: its name, with its id for a child."""
        return f"{self.name}" if self.learner_id is None else f"{self.name}-{self.learner_id}"

    def validate(self, max_iter: int = 0, **options: Any) -> None:
        """Check what can be checked before any compute is spent (``options``: the policy's own).

        Policies with tasks of their own to check override it and call ``super().validate(max_iter)``.
        """
        self.check_tasks(self.required_tasks)
        self.check_max_iter(max_iter)

    def check_tasks(self, kinds: Sequence[str]) -> None:
        """Raise ValueError naming every task kind still missing and the decorator to use."""
        missing = [kind for kind in kinds if not self.has_task(kind)]
        if missing:
            decorators = ", ".join(f"@learner.{k}_task" for k in missing)
            raise ValueError(f"{type(self).__name__} needs task(s) {missing}: register them with {decorators}")

    def can_stop(self) -> bool:
        """True when something other than ``max_iter`` can end the campaign (a criterion)."""
        return self.criterion is not None

    def check_max_iter(self, max_iter: Any) -> None:
        """``max_iter`` is a whole number >= 0 (0 only if :meth:`can_stop`), and there is an engine."""
        if not isinstance(max_iter, int) or isinstance(max_iter, bool) or max_iter < 0:
            raise ValueError(f"max_iter must be a whole number >= 0, got {max_iter!r}")
        if max_iter == 0 and not self.can_stop():
            raise ValueError("Either max_iter > 0 or a stop criterion must be provided: with max_iter=0 and no "
                             "@learner.as_stop_criterion the campaign would never end.")
        if self.asyncflow is None:
            raise RoseError(f"{type(self).__name__} has no engine: `engine = await rose.engine('local')` then "
                            f"{type(self).__name__}(engine)")

    @final
    def start(self, *args: Any, **kwargs: Any) -> LearnerRun:
        """Run the campaign: ``async for state in learner.start(max_iter=10)`` or ``await`` it.

        Parameters of every learner: ``max_iter``, ``skip_pre_loop``, ``initial_config`` (the
        tasks' configuration), ``resume=RUN_DIR`` (``True``: this learner's newest campaign;
        continues an interrupted campaign without re-running finished tasks) and
        ``allow_changed_options`` (resume with options other than the journaled ones) and
        ``deadline`` (a clock time, a duration or a date: the campaign stops cleanly, with stop reason
        ``deadline``, when its next iteration would not fit before it; inside a Slurm job the job's
        end is a deadline anyway, see :mod:`rose.deadline`). The
        policy's own options are declared in :attr:`options_class` and reach it as
        ``step.options``. Everything is validated here, before any task runs.
        """
        base, own = bind_start(type(self).__name__, self.start_positional, self.options_class, args, kwargs,
                               self.start_aliases)
        config = fit_config(base["initial_config"], self, "initial_config")
        fit_option_configs(self, own)
        self.validate(base["max_iter"], **own)
        deadline = campaign_deadline(base["deadline"])
        plan = Plan(max_iter=base["max_iter"], skip_pre_loop=bool(base["skip_pre_loop"]), config=config,
                    resume=base["resume"], options=own, start_options=own,
                    allow_changed_options=bool(base["allow_changed_options"]), deadline=deadline,
                    manifest={"learner_configs": [config.to_dict() if config else None]})
        return self.launch(plan)

    def launch(self, plan: Plan) -> LearnerRun:
        """The run of a validated ``plan``: one campaign here; a parallel policy fans out instead."""
        return LearnerRun(lambda: open_campaign(self, plan))

    def backend_accepts(self, resources: Any) -> bool:
        """True when this learner's backend can run a task asking for ``resources``."""
        try:
            self.translator()(f"{self.name}-probe", Resources.coerce(resources), False)
        except ResourceError:
            return False
        return True
