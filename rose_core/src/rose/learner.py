"""The ``Learner`` base class: the public toolkit of a learning policy.

A learning policy (sequential or parallel active learning, reinforcement learning, your own)
subclasses :class:`Learner` and implements two methods, ``prepare(step)`` and
``evaluate(step)`` (see :mod:`rose.campaign`); the base class gives it task registration
(``@learner.simulation_task`` ...), the stop criterion, configuration, iteration state,
trackers and :meth:`Learner.start`, which runs the one campaign loop of :mod:`rose.campaign`.
A policy that runs several children of another policy uses :mod:`rose.fanout`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
import logging
import math
import numbers
import os
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Mapping, Sequence, Sized
from typing import Any, ClassVar

from rose import overrides, results
from rose.campaign import CampaignRecord, CampaignStream, Outcome, Plan, Step, check_resumable, reap_processes, run_iterations
from rose.config import AdaptiveSchedule, IterationSchedule, LearnerConfig, TaskConfig, check_learner_config
from rose.errors import CriterionOutputError, JournalError, RoseError
from rose.journal import JOURNAL_NAME, ResumePoint, load_resume_point
from rose.metrics import compare, resolve_operator
from rose.names import check_plain_name, dirname_for
from rose.state import IterationState, jsonable
from rose.streaming import LearnerRun
from rose.tasks import CriterionSpec, TaskContext, TaskSpec, execute
from rose.tracking import CriterionManifest, PipelineManifest, TaskManifest

__all__ = ["Learner", "Outcome", "Step", "TaskKind", "parse_metric_value"]

logger = logging.getLogger(__name__)

#: what a masked secret looks like in every record ROSE writes
MASK = "***"


class TaskKind:
    """A task decorator on a learner class: ``simulation_task = TaskKind("simulation")``.

    ``@learner.simulation_task`` (bare) or ``@learner.simulation_task(as_executable=False,
    resources={"gpus": 1}, log_params={...}, retries=2, timeout=600)`` registers a task.
    With ``named=True`` several tasks of the kind can be registered, each with
    ``name=...`` (e.g. ``@pe.environment_task(name="env_1")``).
    """

    def __init__(self, kind: str, *, named: bool = False) -> None:
        self.kind = kind
        self.named = named

    def __set_name__(self, owner: type, attribute: str) -> None:
        self.attribute = attribute

    def __get__(self, obj: Any, owner: type | None = None) -> Callable[..., Any]:
        if obj is None:
            return self  # type: ignore[return-value]
        return functools.partial(obj._task_decorator, self.kind, self.named)


class Learner:
    """Base of every learner: tasks, criterion, configuration, state, trackers, the campaign.

    ``asyncflow`` is a radical.asyncflow ``WorkflowEngine`` (``await rose.engine("local")``
    or one built by hand). ``run_dir`` is the campaign directory (journal, results, the
    working directory of the learner's tasks); by default ``runs/<timestamp>-<name>``.
    """

    simulation_task = TaskKind("simulation")
    training_task = TaskKind("training")
    active_learn_task = TaskKind("active_learn")
    prediction_task = TaskKind("prediction")
    utility_task = TaskKind("utility")

    #: task kinds a subclass requires before ``start`` (checked at start, not lazily)
    required_tasks: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        asyncflow: Any = None,
        *,
        run_dir: str | os.PathLike[str] | None = None,
        name: str | None = None,
    ) -> None:
        self.asyncflow = asyncflow
        self.name = check_plain_name(name, "learner") if name is not None else type(self).__name__
        self.learner_id: int | str | None = None
        self.tasks: dict[str, TaskSpec] = {}
        self.criterion: CriterionSpec | None = None
        self.trackers: list[Any] = []
        self.children: list[Learner] = []
        self.metric_values_per_iteration: dict[Any, Any] = {}
        self._history: list[float] = []  # the numbers of metric_values_per_iteration, kept as they come
        self.iteration = 0
        self.task_cwd: str | None = None
        self._run_dir = os.path.abspath(os.fspath(run_dir)) if run_dir is not None else None
        self._own_run_dir = run_dir is None
        self._campaigns = 0
        self._state: dict[str, Any] = {}
        self._state_callbacks: list[Callable[[str, Any], None]] = []
        self._task_listeners: list[Callable[[dict[str, Any]], None]] = []
        self._stop_requested = False
        self._stop_reason: str | None = None
        self._pending_config: LearnerConfig | None = None
        self._iteration_state: IterationState | None = None
        self._translate: Any = None
        self._resume: ResumePoint | None = None
        self._record: CampaignRecord | None = None
        self._replaying = False
        self._max_iter: int | None = None
        self._cwd_is_default = False
        self._background: set[asyncio.Task[Any]] = set()

    # -- the policy protocol (see rose.campaign) ------------------------------------------
    async def prepare(self, step: Step) -> Any:
        """The work that feeds iteration ``step.iteration``; returns that iteration's inputs.

        ``step.inputs`` is the previous iteration's :attr:`Outcome.carry` (None before the
        first). The default prepares nothing and passes the carry through.
        """
        return step.inputs

    async def evaluate(self, step: Step) -> Outcome:
        """The iteration's own work and its criterion (policies must implement it)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement evaluate(step)")

    # -- registering task kinds and tasks --------------------------------------------
    @classmethod
    def add_task_kind(cls, kind: str, *, named: bool = False) -> None:
        """Give this learner class a ``<kind>_task`` decorator (for plugin learners)."""
        descriptor = TaskKind(kind, named=named)
        descriptor.attribute = f"{kind}_task"
        setattr(cls, f"{kind}_task", descriptor)

    def _task_decorator(self, kind: str, named: bool, func: Any = None, /, **options: Any) -> Callable[..., Any]:
        if func is not None and not callable(func):
            raise TypeError(f"@{kind}_task takes keyword options only, got {func!r}")

        def register(fn: Any) -> Any:
            spec = TaskSpec.build(kind, fn, options)
            if named:
                if not options.get("name"):
                    spec.name = getattr(fn, "__name__", kind)
                check_plain_name(spec.name, f"{kind} task")
                if spec.name in self.tasks:
                    raise ValueError(
                        f"task name {spec.name!r} is already used by a {self.tasks[spec.name].kind} task of "
                        f"{self.name}: give each {kind} task its own name=..."
                    )
            else:
                spec.name = kind
            return self.add_task(spec, fn)

        return register(func) if func is not None else register

    def add_task(self, spec: TaskSpec, fn: Any) -> Any:
        """Register a built :class:`~rose.tasks.TaskSpec`; returns ``fn`` wrapped to run once on demand.

        Plugins that add their own registration decorators (such as an uncertainty task with
        a threshold) build the spec and call this.
        """
        self.tasks[spec.name] = spec

        @functools.wraps(fn)
        async def run_now(*args: Any, **kwargs: Any) -> Any:
            """Run this task once through the learner's engine and return its result."""
            return await self.submit(spec, args, kwargs)

        run_now.spec = spec  # type: ignore[attr-defined]
        return run_now

    def as_stop_criterion(
        self,
        metric_name: str,
        threshold: float,
        operator: str = "",
        as_executable: bool = True,
        **options: Any,
    ) -> Callable[..., Any]:
        """Register the stop criterion: stop when ``metric OP threshold`` holds.

        The operator comes from the metric registry for known metrics (``<`` for errors,
        ``>=`` for accuracy); a custom metric name needs ``operator=``. The task returns a
        number, a dict with ``metric_value``, or (executable) prints the number on its last
        non-empty stdout line.
        """
        threshold = check_threshold(metric_name, threshold, "as_stop_criterion")
        resolved = resolve_operator(metric_name, operator)
        options["as_executable"] = options.get("as_executable", as_executable)

        def register(fn: Any) -> Any:
            base = TaskSpec.build("criterion", fn, options)
            from attrs import asdict

            fields = asdict(base, recurse=False)
            fields["name"] = "criterion"
            self.criterion = CriterionSpec(**fields, metric_name=metric_name, threshold=threshold, operator=resolved)
            self.tasks["criterion"] = self.criterion
            spec = self.criterion

            @functools.wraps(fn)
            async def check_now(*args: Any, **kwargs: Any) -> tuple[bool, float]:
                """Run the criterion once; returns ``(should_stop, metric_value)``."""
                value = self.metric_of(await self.submit(spec, args, kwargs))
                return compare(value, spec.threshold, spec.operator), value

            check_now.spec = spec  # type: ignore[attr-defined]
            return check_now

        return register

    def tasks_of(self, kind: str) -> list[TaskSpec]:
        """Every registered task of ``kind`` in registration order."""
        return [spec for spec in self.tasks.values() if spec.kind == kind]

    def has_task(self, kind: str) -> bool:
        """True when at least one task of ``kind`` is registered."""
        return any(spec.kind == kind for spec in self.tasks.values())

    # -- schedules ----------------------------------------------------------------------
    def create_adaptive_schedule(self, task_name: str, fn: Callable[[int], Any]) -> AdaptiveSchedule:
        """A schedule calling ``fn(iteration)`` lazily for any iteration (no limit)."""
        return AdaptiveSchedule(task_name, fn)

    def create_iteration_schedule(self, task_name: str, schedule: Mapping[Any, Any]) -> IterationSchedule:
        """Checkpoints ``{iteration: {"args":..., "kwargs":...}}`` with ``-1`` as fallback."""
        return IterationSchedule(task_name, schedule)

    # -- running tasks ------------------------------------------------------------------
    def resolve_config(self, key: str, iteration: int, config: LearnerConfig | None) -> TaskConfig | None:
        """The TaskConfig for task ``key`` at ``iteration`` (named, then kind, then None)."""
        if config is None:
            return None
        spec = self.tasks.get(key)
        found = config.get_task_config(key, iteration)
        if found is None and spec is not None and spec.kind != key:
            found = config.get_task_config(spec.kind, iteration)
        return found

    async def run_task(
        self,
        key: str,
        *,
        iteration: int | None = None,
        config: LearnerConfig | None = None,
        deps: Sequence[Any] = (),
        extra_kwargs: Mapping[str, Any] | None = None,
        record_state: bool = True,
    ) -> Any:
        """Run registered task ``key`` for ``iteration`` and return its result.

        Arguments are the configuration's ``args`` followed by ``deps`` (upstream
        results); keyword arguments are the configuration's ``kwargs`` (plus
        ``extra_kwargs``). A dict result is recorded as iteration state. In a resumed
        campaign a task that finished before the interruption is not run again: its
        recorded result is returned.
        """
        spec = self.tasks.get(key)
        if spec is None:
            raise RoseError(f"{self.name}: no task {key!r} is registered")
        task_config = self.resolve_config(key, iteration if iteration is not None else 0, config)
        args = (tuple(task_config.args) if task_config else ()) + tuple(deps)
        kwargs = dict(task_config.kwargs) if task_config else {}
        if extra_kwargs:
            kwargs.update(extra_kwargs)
        call = call_key(kwargs, args) if self._record is not None else ""
        found, result = self._replayed(spec, iteration, call)
        if not found:
            result = await self.submit(spec, args, kwargs, iteration=iteration, key=call)
        if record_state and isinstance(result, Mapping) and spec.kind != "criterion":
            self.register_result_state(result)
        return result

    def _replayed(self, spec: TaskSpec, iteration: int | None, call: str) -> tuple[bool, Any]:
        point = self._resume
        if point is None or self._record is None:
            return False, None
        found, stored = point.take_result(iteration, spec.name, call)
        if not found:
            return False, None
        if not results.is_stored(stored):
            logger.warning(
                "[%s] task %r of iteration %s finished before the interruption, but its result could not be "
                "stored: running it again", self.label, spec.name, iteration,
            )
            return False, None
        try:
            return True, results.decode(stored, self.run_dir)
        except (OSError, ValueError) as exc:
            logger.warning("[%s] cannot read the stored result of task %r (iteration %s): %s; running it again",
                           self.label, spec.name, iteration, exc)
            return False, None

    def submit(
        self,
        spec: TaskSpec,
        args: Sequence[Any],
        kwargs: Mapping[str, Any],
        *,
        iteration: int | None = None,
        key: str = "",
    ) -> Coroutine[Any, Any, Any]:
        """Execute ``spec`` with exactly these arguments on the learner's engine (no replay):
        ``result = await learner.submit(...)``.

        It returns the execution's coroutine itself (no frame of its own per task in flight);
        a subclass may override it with an ``async def`` that awaits ``super().submit(...)``.
        """
        if self.asyncflow is None:
            raise RoseError(
                f"{self.name} has no engine: create it with `engine = await rose.engine('local')` "
                f"and pass it: {type(self).__name__}(engine)"
            )
        if self._translate is None:
            from rose.engine import translator_for

            self._translate = translator_for(self.asyncflow)
        record = self._record
        context = TaskContext(
            learner=self.learner_id if self.learner_id is not None else self.name,
            iteration=iteration,
            cwd=self.task_cwd,
            on_attempt=self._journal_task(record, iteration, key) if record is not None else None,
            on_event=self._task_event(iteration) if self._task_listeners else None,
            on_spawn=(self._journal_spawn(record, iteration, spec.name, key)
                      if record is not None and spec.as_executable else None),  # only commands spawn
        )
        return execute(self.asyncflow, spec, args, kwargs, context, self._translate)

    def _task_event(self, iteration: int | None) -> Callable[[dict[str, Any]], None]:
        learner = self.learner_id

        def emit(event: dict[str, Any]) -> None:
            event = {"learner_id": learner, "iteration": iteration, **event}
            for listener in list(self._task_listeners):
                listener(event)

        return emit

    def _journal_task(self, record: CampaignRecord, iteration: int | None, key: str) -> Callable[[dict[str, Any]], None]:
        directory = self.run_dir

        def write(entry: dict[str, Any]) -> None:
            if "result" in entry:
                try:
                    entry["result"] = results.encode(entry["result"], directory)
                except results.Unstorable as exc:
                    logger.warning(
                        "[%s] the result of task %r (iteration %s) cannot be stored (%s): a resume runs it again",
                        self.label, entry.get("task"), iteration, exc,
                    )
                    entry["result"] = results.UNSTORED
            if "error" in entry:
                entry["error"] = clip(str(entry["error"]))
            record.write("task", iteration=iteration, key=key, **entry)

        return write

    @staticmethod
    def _journal_spawn(record: CampaignRecord, iteration: int | None, task: str, key: str) -> Callable[[Mapping[str, Any]], None]:
        def write(process: Mapping[str, Any]) -> None:
            record.write("process", iteration=iteration, task=task, key=key,
                         **{k: process.get(k) for k in ("pid", "pgid", "start_time")})

        return write

    def in_background(self, awaitable: Awaitable[Any]) -> asyncio.Task[Any]:
        """Run ``awaitable`` (a ``run_task(...)``) alongside the campaign, across iterations.

        For policies without iteration barriers (a simulation started in one iteration may
        finish in a later one). The campaign cancels what is still running when it ends.
        """
        task = asyncio.ensure_future(awaitable)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def cancel_background(self) -> None:
        """Cancel (and wait for) everything :meth:`in_background` started that still runs."""
        tasks = list(self._background)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def on_task_event(self, callback: Callable[[dict[str, Any]], None]) -> None:
        """Call ``callback(event)`` when a task attempt starts and ends (see :mod:`rose.tracking`)."""
        self._task_listeners.append(callback)

    def remove_task_listener(self, callback: Callable[[dict[str, Any]], None]) -> None:
        """Stop calling ``callback`` for task events."""
        if callback in self._task_listeners:
            self._task_listeners.remove(callback)

    def inherit(self, parent: Learner, *, learner_id: int | str, task_cwd: str | None = None) -> None:
        """Make this learner a child of ``parent`` (parallel learners use it).

        It runs the parent's tasks and criterion (the specs are immutable; the ``tasks``
        dict is copied so siblings never change each other), reports task events and
        state updates to the parent's listeners, and has its own ``learner_id`` and
        working directory for executable tasks.
        """
        self.tasks = dict(parent.tasks)
        self.criterion = parent.criterion
        self.learner_id = learner_id
        self._translate = parent._translate
        if task_cwd is not None and parent.asyncflow is not None and not parent.backend_accepts({"cwd": task_cwd}):
            task_cwd = None  # a bare thread pool cannot place tasks: they run where it runs them
        self.task_cwd = task_cwd
        self._task_listeners = parent._task_listeners
        for callback in parent._state_callbacks:
            self.on_state_update(callback)

    # -- the stop criterion -----------------------------------------------------------
    async def check_criterion(
        self,
        iteration: int,
        config: LearnerConfig | None = None,
        deps: Sequence[Any] = (),
        extra_kwargs: Mapping[str, Any] | None = None,
    ) -> tuple[bool, float | None]:
        """Run the criterion task (if any) and return ``(met, metric_value)``."""
        spec = self.criterion
        if spec is None:
            return False, None
        result = await self.run_task("criterion", iteration=iteration, config=config, deps=deps,
                                     extra_kwargs=extra_kwargs, record_state=False)
        if isinstance(result, Mapping):
            self.register_result_state(result, exclude_keys={"metric_value", "should_stop"})
        value = self.metric_of(result, iteration)
        met = compare(value, spec.threshold, spec.operator)
        logger.info(
            "[%s] %s = %.6g (stop when %s %g: %s)", self.label, spec.metric_name, value, spec.operator,
            spec.threshold, "met" if met else "not met",
        )
        return met, value

    def metric_of(self, result: Any, iteration: int | None = None) -> float:
        """The criterion's number from its result (a clear error naming the criterion if none)."""
        assert self.criterion is not None
        label = getattr(self.criterion.func, "__name__", self.criterion.name)
        where = f" of learner {self.learner_id}" if self.learner_id is not None else ""
        if iteration is not None:
            where += f" at iteration {iteration}"
        return parse_metric_value(result, label, self.criterion.as_executable, where=where)

    def compare_metric(self, metric_name: str, metric_value: float, threshold: float, operator: str = "") -> bool:
        """``metric_value OP threshold`` with the metric's registered (or given) operator."""
        return compare(metric_value, threshold, resolve_operator(metric_name, operator))

    # -- state --------------------------------------------------------------------------
    def register_state(self, key: str, value: Any) -> None:
        """Record a value for the current iteration and notify ``on_state_update`` callbacks."""
        self._state[key] = value
        if self._replaying:
            return
        for callback in list(self._state_callbacks):
            try:
                callback(key, value)
            except Exception:
                logger.warning("state callback %r failed for %r", callback, key, exc_info=True)

    def register_result_state(self, result: Mapping[str, Any], exclude_keys: set[str] | None = None) -> None:
        """Record every key of a task's dict result as state of the current iteration."""
        for key, value in result.items():
            if exclude_keys and key in exclude_keys:
                continue
            self.register_state(str(key), value)

    def get_state(self, key: str, default: Any = None) -> Any:
        """A value recorded this iteration."""
        return self._state.get(key, default)

    def get_all_state(self) -> dict[str, Any]:
        """A copy of every value recorded this iteration."""
        return dict(self._state)

    def clear_state(self) -> None:
        """Forget this iteration's values (the loop calls it before each iteration)."""
        self._state.clear()

    def on_state_update(self, callback: Callable[[str, Any], None]) -> None:
        """Call ``callback(key, value)`` whenever a state value is recorded."""
        self._state_callbacks.append(callback)

    def remove_state_callback(self, callback: Callable[[str, Any], None]) -> None:
        """Stop calling ``callback``."""
        if callback in self._state_callbacks:
            self._state_callbacks.remove(callback)

    @contextlib.contextmanager
    def replaying(self, active: bool) -> Iterator[None]:
        """While ``active``, state callbacks stay silent (the loop replays finished iterations)."""
        previous, self._replaying = self._replaying, active
        try:
            yield
        finally:
            self._replaying = previous

    @property
    def metric_history(self) -> list[float]:
        """Criterion values so far, in iteration order."""
        return [v for v in self.metric_values_per_iteration.values() if isinstance(v, (int, float))]

    def get_metric_results(self) -> dict[Any, Any]:
        """Criterion values by iteration (per learner for parallel learners)."""
        return dict(self.metric_values_per_iteration)

    def get_max_iterations(self) -> int | None:
        """The ``max_iter`` of the running (or last) campaign, ``rose run --max-iter`` applied (0: no limit)."""
        return self._max_iter

    def build_iteration_state(
        self,
        iteration: int,
        metric_value: float | None = None,
        should_stop: bool = False,
        current_config: Any = None,
    ) -> IterationState:
        """The state this learner yields for ``iteration`` (its metric joins the history)."""
        if metric_value is not None:
            if iteration not in self.metric_values_per_iteration and isinstance(metric_value, (int, float)):
                self._history.append(metric_value)
            self.metric_values_per_iteration[iteration] = metric_value
        self.iteration = iteration + 1
        criterion = self.criterion
        state = IterationState(
            iteration=iteration,
            metric_name=criterion.metric_name if criterion else None,
            metric_value=metric_value,
            metric_threshold=criterion.threshold if criterion else None,
            metric_history=list(self._history),  # a copy per state, not a scan of every iteration
            should_stop=should_stop,
            current_config=current_config,
            learner_id=self.learner_id,
            state=self.get_all_state(),
        )
        self._iteration_state = state
        return state

    def get_current_state(self) -> IterationState | None:
        """The last state yielded."""
        return self._iteration_state

    def relay_state(self, state: IterationState) -> None:
        """A child's state passing through this parent learner (the fan-out calls it)."""
        self._iteration_state = state

    # -- control ------------------------------------------------------------------------
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
        return self._stop_reason

    def end_campaign(self, reason: str) -> None:
        """Called by the campaign loop when a campaign ends (after its last state)."""
        self._stop_reason = reason
        self._record = None

    def set_next_config(self, config: LearnerConfig) -> None:
        """Use ``config`` from the next iteration on (replaces the current one; a parallel
        learner's children all take it)."""
        if not isinstance(config, LearnerConfig):
            raise TypeError(f"set_next_config expects a LearnerConfig, got {config!r}")
        self._pending_config = config
        for child in self.children:
            child.set_next_config(config)

    def take_pending_config(self, current: LearnerConfig | None) -> LearnerConfig | None:
        """The pending configuration if one was set (then cleared), else ``current``."""
        if self._pending_config is not None:
            current, self._pending_config = self._pending_config, None
        return current

    async def shutdown(self, *args: Any, **kwargs: Any) -> None:
        """Shut the engine down."""
        if self.asyncflow is not None:
            await self.asyncflow.shutdown(*args, **kwargs)

    # -- trackers and manifest -----------------------------------------------------------
    def add_tracker(self, tracker: Any) -> None:
        """Add a tracker; it receives ``on_start`` when the campaign starts."""
        missing = [m for m in ("on_start", "on_iteration", "on_stop") if not callable(getattr(tracker, m, None))]
        if missing:
            raise TypeError(
                f"{tracker!r} is not a tracker: it lacks {', '.join(missing)} "
                f"(subclass rose.tracking.TrackerBase)"
            )
        self.trackers.append(tracker)

    def build_manifest(self, **extra: Any) -> PipelineManifest:
        """Describe this campaign for trackers and the journal (secrets masked)."""
        tasks: dict[str, TaskManifest] = {}
        for key, spec in self.tasks.items():
            if spec.kind == "criterion":
                continue
            tasks[key] = TaskManifest(
                func_name=getattr(spec.func, "__name__", key),
                func_module=getattr(spec.func, "__module__", ""),
                as_executable=spec.as_executable,
                kind=spec.kind,
                decor_kwargs=dict(spec.engine_options),
                log_params=dict(spec.log_params),
                resources={} if spec.resources.is_default() else resources_record(spec.resources),
            )
        criterion = None
        if self.criterion is not None:
            c = self.criterion
            criterion = CriterionManifest(
                func_name=getattr(c.func, "__name__", "criterion"),
                func_module=getattr(c.func, "__module__", ""),
                as_executable=c.as_executable,
                kind="criterion",
                log_params=dict(c.log_params),
                metric_name=c.metric_name,
                threshold=c.threshold,
                operator=c.operator,
            )
        return PipelineManifest(
            learner_type=type(self).__name__, tasks=tasks, criterion=criterion,
            run_dir=self._run_dir, **extra,
        )

    def manifest_extra(self, plan: Plan) -> dict[str, Any]:
        """Manifest fields of this policy (``learner_configs``, ``extra``...): override to add."""
        return dict(plan.manifest)

    # -- the campaign -------------------------------------------------------------------
    @property
    def run_dir(self) -> str:
        """The campaign directory (created when the campaign starts)."""
        if self._run_dir is None:
            self._run_dir = overrides.resume_for(self)  # `rose run --resume RUN`
        if self._run_dir is None:
            from rose.engine import runs_root

            stamp = time.strftime("%Y%m%d-%H%M%S")
            base = os.path.join(runs_root(), f"{stamp}-{dirname_for(self.name).lower()}")
            path, n = base, 1
            while os.path.exists(path):
                n += 1
                path = f"{base}-{n}"
            self._run_dir = path
        return self._run_dir

    @property
    def label(self) -> str:
        """How log lines name this learner: its name, with its id for a child."""
        return f"{self.name}" if self.learner_id is None else f"{self.name}-{self.learner_id}"

    def prepare_resume(self, resume: str | os.PathLike[str] | bool | None) -> ResumePoint | None:
        """Load the journal of a previous run of this campaign to continue it.

        ``resume`` is the campaign directory (``True``: the newest one of this learner
        under the runs root). The metric history and last state are restored; the loop
        continues at :attr:`ResumePoint.next_iteration`.
        """
        if resume is None:
            resume = overrides.resume_for(self)  # `rose run --resume RUN`
        if resume is None or resume is False:
            self._resume = None
            return None
        run_dir = latest_run_dir(self.name) if resume is True else os.path.abspath(os.fspath(resume))  # type: ignore[arg-type]
        point = load_resume_point(run_dir)
        check_resumable(self, point)
        self._run_dir = run_dir
        self._resume = point
        self.metric_values_per_iteration.clear()
        self.metric_values_per_iteration.update(
            (s["iteration"], s["metric_value"]) for s in point.states if s.get("metric_value") is not None
        )
        self._history[:] = self.metric_history
        if point.states:
            last = IterationState.from_dict(point.states[-1])
            self._iteration_state = last.replace(metric_history=self.metric_history)
        return point

    @property
    def resume_point(self) -> ResumePoint | None:
        """Where a resumed campaign continues (None for a fresh campaign)."""
        return self._resume

    def validate(self, max_iter: int = 0, **options: Any) -> None:
        """Check everything that can be checked before any compute is spent.

        Policies with ``start()`` options of their own override it, check their options
        and call ``super().validate(max_iter)``.
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
            raise ValueError(
                "Either max_iter > 0 or a stop criterion must be provided: with max_iter=0 and no "
                "@learner.as_stop_criterion the campaign would never end."
            )
        if self.asyncflow is None:
            raise RoseError(
                f"{type(self).__name__} has no engine: `engine = await rose.engine('local')` then "
                f"{type(self).__name__}(engine)"
            )

    def start(
        self,
        max_iter: int = 0,
        skip_pre_loop: bool = False,
        initial_config: LearnerConfig | None = None,
        resume: str | os.PathLike[str] | bool | None = None,
        **options: Any,
    ) -> LearnerRun:
        """Run the campaign: ``async for state in learner.start(max_iter=10)`` or ``await`` it.

        Everything is validated here, before any task runs. ``initial_config`` configures the
        tasks; ``resume=RUN_DIR`` (``True``: this learner's newest campaign) continues an
        interrupted campaign where it stopped, without re-running finished tasks. Further
        keyword ``options`` are the policy's own; they reach it as ``step.options``.
        """
        check_learner_config(initial_config, "initial_config")
        self.validate(max_iter, **options)
        plan = Plan(
            max_iter=max_iter, skip_pre_loop=bool(skip_pre_loop), config=initial_config, resume=resume,
            options=options, manifest={"learner_configs": [initial_config.to_dict() if initial_config else None]},
        )
        return LearnerRun(lambda: self.open_campaign(plan))

    def open_campaign(self, plan: Plan) -> CampaignStream:
        """Open the journal and trackers for ``plan`` and return the stream of its states."""
        self.begin_campaign(plan)
        point = self.prepare_resume(plan.resume)
        self.place_tasks()
        self.check_resources()
        manifest = self.build_manifest(max_iter=self._max_iter, **self.manifest_extra(plan))
        record = CampaignRecord(self, manifest, point)
        record.open()  # takes the directory's lock first: a resume must not end a running campaign's tasks
        if point is not None:
            reap_processes(point)
        self._record = record
        states = run_iterations(self, plan, record)
        return CampaignStream(states, lambda: self._abandon(record))

    def begin_campaign(self, plan: Plan) -> None:
        """Reset what one campaign leaves behind (stop request, reason, directory of the last run)."""
        if self._campaigns and self._own_run_dir and plan.resume is None:
            self._run_dir = None  # a second start() of the same object gets its own directory
        self._campaigns += 1
        self._stop_requested = False
        self._stop_reason = None
        self.metric_values_per_iteration.clear()  # in place: a parallel parent holds this dict of its child
        self._history.clear()  # a resume restores both from the journal
        cap = overrides.current().max_iter if self.learner_id is None else None
        self._max_iter = min(plan.max_iter, cap) if plan.max_iter and cap else (plan.max_iter or cap or 0)

    def place_tasks(self) -> None:
        """Create the campaign directory; the learner's tasks run in it unless they set ``cwd``.

        A child of a parallel learner already has its own directory. A backend that cannot
        set a task's working directory (a bare thread pool) runs tasks where it runs them.
        """
        try:
            os.makedirs(self.run_dir, exist_ok=True)
        except OSError as exc:
            raise JournalError(os.path.join(self.run_dir, JOURNAL_NAME), exc) from exc
        if self._cwd_is_default:
            self.task_cwd, self._cwd_is_default = None, False
        if self.task_cwd is None and self.asyncflow is not None and self.backend_accepts({"cwd": self.run_dir}):
            self.task_cwd, self._cwd_is_default = self.run_dir, True

    def _abandon(self, record: CampaignRecord) -> None:
        self._stop_reason = "stopped"
        record.finish_now(self.get_current_state(), "stopped")

    def check_resources(self) -> None:
        """Translate every task's resources for this engine now, so a request the backend
        cannot satisfy fails before any compute is spent (ResourceError names the task)."""
        if self.asyncflow is None:
            return
        if self._translate is None:
            from rose.engine import translator_for

            self._translate = translator_for(self.asyncflow)
        for spec in self.tasks.values():
            self._translate(spec.name, spec.resources, spec.shell)

    def backend_accepts(self, resources: Any) -> bool:
        """True when this learner's backend can run a task asking for ``resources``."""
        from rose.errors import ResourceError
        from rose.records import Resources

        if self._translate is None:
            from rose.engine import translator_for

            self._translate = translator_for(self.asyncflow)
        try:
            self._translate(f"{self.name}-probe", Resources.coerce(resources), False)
        except ResourceError:
            return False
        return True


def latest_run_dir(name: str) -> str:
    """The newest campaign directory of learner ``name`` under the runs root."""
    from rose.engine import runs_root

    root = runs_root()
    suffix = f"-{dirname_for(name).lower()}"
    candidates = sorted(
        entry.path for entry in os.scandir(root) if entry.is_dir() and suffix in entry.name
    ) if os.path.isdir(root) else []
    if not candidates:
        raise FileNotFoundError(f"cannot resume: no campaign of {name} under {root}")
    return candidates[-1]


def resources_record(resources: Any) -> dict[str, Any]:
    """A task's resources as written in records: ``env`` values masked unless listed in ``record_env``."""
    from attrs import asdict

    out = {k: v for k, v in asdict(resources).items() if v not in (None, {}, 0, ()) or k == "gpus" and v}
    if out.get("env"):
        shown = set(getattr(resources, "record_env", ()))
        out["env"] = {name: (value if name in shown else MASK) for name, value in out["env"].items()}
    return out


def call_key(kwargs: Mapping[str, Any], args: Sequence[Any] = ()) -> str:
    """A short stable digest of a task call: its keyword arguments and the shape of its positional ones.

    Resume matches calls by it. Positional arguments (upstream results, possibly large) count by
    type and length only: cheap, and the same for the recorded values a resume hands back.
    """
    shape = ",".join(f"{type(a).__name__}:{len(a) if isinstance(a, Sized) else ''}" for a in args)
    if not kwargs and not shape:
        return ""
    text = (json.dumps(jsonable(kwargs), sort_keys=True) if kwargs else "{}") + "|" + shape
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def clip(text: str, limit: int = 4000) -> str:
    """``text`` cut to at most ``limit`` characters, keeping its start and end."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]} ... [{len(text) - limit} characters cut] ... {text[-half:]}"


def check_threshold(metric_name: Any, threshold: Any, where: str) -> float:
    """A finite number, or a clear error (a NaN or infinite threshold can never be met)."""
    if not isinstance(metric_name, str) or not metric_name:
        raise TypeError(f"{where}: metric_name must be a non-empty string, got {metric_name!r}")
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
        raise TypeError(f"{where}({metric_name!r}): threshold must be a number, got {threshold!r}")
    if not math.isfinite(float(threshold)):
        raise ValueError(
            f"{where}({metric_name!r}): threshold {threshold!r} is not a finite number, so the criterion could "
            f"never be met and the campaign would not stop; give a finite threshold"
        )
    return float(threshold)


def parse_metric_value(result: Any, task: str = "criterion", executable: bool = True, where: str = "") -> float:
    """Read a finite number from a criterion's result (see :meth:`Learner.as_stop_criterion`).

    ``task`` names the criterion function and ``where`` says which learner and iteration,
    for the error message.
    """
    output = result
    if isinstance(result, Mapping):
        if "metric_value" not in result:
            raise CriterionOutputError(task, output, where=where, why="returned a dict without a 'metric_value' key")
        result = result["metric_value"]
    if isinstance(result, (bytes, bytearray)):
        result = result.decode(errors="replace")
    if isinstance(result, str):
        lines = [line.strip() for line in result.splitlines() if line.strip()]
        if not lines:
            raise CriterionOutputError(task, output, where=where, why="printed nothing")
        try:
            value = float(lines[-1])
        except ValueError:
            raise CriterionOutputError(task, output, where=where, why="did not print a number on its last line") from None
    elif isinstance(result, numbers.Real) or hasattr(result, "__float__"):
        try:
            value = float(result)
        except (TypeError, ValueError):
            raise CriterionOutputError(task, output, where=where, why="returned something that is not a number") from None
    else:
        raise CriterionOutputError(task, output, where=where, why="returned something that is not a number")
    if not math.isfinite(value):
        raise CriterionOutputError(
            task, output, where=where, why=f"produced {value}, which can never meet a threshold (the campaign would not stop)"
        )
    return value
