"""The ``Learner`` base class: tasks, stop criterion, configuration, state, trackers.

Learning policies (sequential and parallel active learning, reinforcement learning, ...)
live in plugins and subclass :class:`Learner`. They implement ``_iterate(**options)``, an
async generator of :class:`~rose.state.IterationState`, built from :meth:`Learner.run_task`
and :meth:`Learner.check_criterion`; the base class wraps it with validation, the journal,
tracker notification, cancellation and the stop reason.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import numbers
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, ClassVar

from rose import overrides
from rose.config import LearnerConfig, TaskConfig
from rose.errors import CriterionOutputError, RoseError
from rose.journal import Journal, ResumePoint, load_resume_point
from rose.metrics import compare, resolve_operator
from rose.schedules import AdaptiveSchedule, IterationSchedule
from rose.state import IterationState
from rose.streaming import LearnerRun
from rose.tasks import CriterionSpec, TaskContext, TaskSpec, execute
from rose.tracker_hub import TrackerHub
from rose.tracking import CriterionManifest, PipelineManifest, TaskManifest

__all__ = ["Learner", "TaskKind", "parse_metric_value"]

logger = logging.getLogger(__name__)


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
    """Base of every learner: task registration, configuration, criterion, state, trackers.

    ``asyncflow`` is a radical.asyncflow ``WorkflowEngine`` (``await rose.engine("local")``
    or one built by hand). ``run_dir`` is the campaign directory (journal, per-learner
    working directories); by default ``runs/<timestamp>-<learner type>``.
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
        self.name = name or type(self).__name__
        self.learner_id: int | str | None = None
        self.tasks: dict[str, TaskSpec] = {}
        self.criterion: CriterionSpec | None = None
        self.trackers: list[Any] = []
        self.metric_values_per_iteration: dict[Any, Any] = {}
        self.iteration = 0
        self._run_dir = os.fspath(run_dir) if run_dir is not None else None
        self._state: dict[str, Any] = {}
        self._state_callbacks: list[Callable[[str, Any], None]] = []
        self._task_listeners: list[Callable[[dict[str, Any]], None]] = []
        self._stop_requested = False
        self._stop_reason: str | None = None
        self._pending_config: LearnerConfig | None = None
        self._iteration_state: IterationState | None = None
        self._journal: Journal | None = None
        self._translate: Any = None
        self._resume: ResumePoint | None = None
        self._current_iteration: int | None = None
        self.task_cwd: str | None = None

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
                if spec.name in self.tasks and self.tasks[spec.name].kind != kind:
                    raise ValueError(
                        f"task name {spec.name!r} is already used by a {self.tasks[spec.name].kind} task"
                    )
            else:
                spec.name = kind
            self.tasks[spec.name] = spec
            return self._callable_task(spec, fn)

        return register(func) if func is not None else register

    def _callable_task(self, spec: TaskSpec, fn: Any) -> Any:
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
        if not isinstance(metric_name, str) or not metric_name:
            raise TypeError(f"as_stop_criterion: metric_name must be a non-empty string, got {metric_name!r}")
        if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
            raise TypeError(f"as_stop_criterion({metric_name!r}): threshold must be a number, got {threshold!r}")
        resolved = resolve_operator(metric_name, operator)
        options["as_executable"] = options.get("as_executable", as_executable)

        def register(fn: Any) -> Any:
            base = TaskSpec.build("criterion", fn, options)
            from attrs import asdict

            fields = asdict(base, recurse=False)
            fields["name"] = "criterion"
            self.criterion = CriterionSpec(
                **fields, metric_name=metric_name, threshold=float(threshold), operator=resolved
            )
            self.tasks["criterion"] = self.criterion
            return self._callable_criterion(self.criterion, fn)

        return register

    def _callable_criterion(self, spec: CriterionSpec, fn: Any) -> Any:
        @functools.wraps(fn)
        async def check_now(*args: Any, **kwargs: Any) -> tuple[bool, float]:
            """Run the criterion once; returns ``(should_stop, metric_value)``."""
            result = await self.submit(spec, args, kwargs)
            return self._check_stop_criterion(result)

        check_now.spec = spec  # type: ignore[attr-defined]
        return check_now

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
        ``extra_kwargs``). A dict result is recorded as iteration state.
        """
        spec = self.tasks.get(key)
        if spec is None:
            raise RoseError(f"{self.name}: no task {key!r} is registered")
        task_config = self.resolve_config(key, iteration if iteration is not None else 0, config)
        args = (tuple(task_config.args) if task_config else ()) + tuple(deps)
        kwargs = dict(task_config.kwargs) if task_config else {}
        if extra_kwargs:
            kwargs.update(extra_kwargs)
        result = await self.submit(spec, args, kwargs, iteration=iteration)
        if record_state and isinstance(result, Mapping) and spec.kind != "criterion":
            self._extract_state_from_result(result)
        return result

    async def submit(
        self, spec: TaskSpec, args: Sequence[Any], kwargs: Mapping[str, Any], *, iteration: int | None = None
    ) -> Any:
        """Execute ``spec`` with exactly these arguments on the learner's engine."""
        if self.asyncflow is None:
            raise RoseError(
                f"{self.name} has no engine: create it with `engine = await rose.engine('local')` "
                f"and pass it: {type(self).__name__}(engine)"
            )
        if self._translate is None:
            from rose.engine import translator_for

            self._translate = translator_for(self.asyncflow)
        if iteration is not None:
            self._current_iteration = iteration
        context = TaskContext(
            learner=self.learner_id if self.learner_id is not None else self.name,
            iteration=iteration,
            cwd=self.task_cwd,
            on_attempt=self._journal_task(iteration),
            on_event=self._task_event(iteration) if self._task_listeners else None,
        )
        return await execute(self.asyncflow, spec, args, kwargs, context, self._translate)

    def _task_event(self, iteration: int | None) -> Callable[[dict[str, Any]], None]:
        learner = self.learner_id

        def emit(event: dict[str, Any]) -> None:
            event = {"learner_id": learner, "iteration": iteration, **event}
            for listener in list(self._task_listeners):
                listener(event)

        return emit

    def on_task_event(self, callback: Callable[[dict[str, Any]], None]) -> None:
        """Call ``callback(event)`` when a task attempt starts and ends (see :mod:`rose.tracking`)."""
        self._task_listeners.append(callback)

    def inherit(self, parent: Learner, *, learner_id: int | str, task_cwd: str | None = None) -> None:
        """Make this learner a sub-learner of ``parent`` (parallel learners use it).

        It runs the parent's tasks and criterion (the specs are immutable; the ``tasks``
        dict is copied so siblings never change each other), reports task events and
        state updates to the parent's listeners, and has its own ``learner_id`` and
        working directory for executable tasks.
        """
        self.tasks = dict(parent.tasks)
        self.criterion = parent.criterion
        self.learner_id = learner_id
        self.task_cwd = task_cwd
        self._translate = parent._translate
        self.forward_task_events(parent)
        for callback in parent._state_callbacks:
            self.on_state_update(callback)

    def forward_task_events(self, parent: Learner) -> None:
        """Send this sub-learner's task events to whatever listens to ``parent``, now or later."""
        self._task_listeners = parent._task_listeners

    def _journal_task(self, iteration: int | None) -> Callable[[dict[str, Any]], None] | None:
        journal = self._journal
        if journal is None:
            return None
        learner = self.learner_id

        def record(entry: dict[str, Any]) -> None:
            journal.write("task", learner_id=learner, iteration=iteration, **entry)

        return record

    # -- the stop criterion -----------------------------------------------------------
    async def check_criterion(
        self, iteration: int, config: LearnerConfig | None = None, deps: Sequence[Any] = ()
    ) -> tuple[bool, float | None]:
        """Run the criterion task (if any) and return ``(should_stop, metric_value)``."""
        if self.criterion is None:
            return False, None
        result = await self.run_task("criterion", iteration=iteration, config=config, deps=deps)
        if isinstance(result, Mapping):
            self._extract_state_from_result(result, exclude_keys={"metric_value", "should_stop"})
        return self._check_stop_criterion(result, iteration=iteration)

    def _check_stop_criterion(self, result: Any, iteration: int | None = None) -> tuple[bool, float]:
        assert self.criterion is not None
        label = getattr(self.criterion.func, "__name__", self.criterion.name)
        where = f" of learner {self.learner_id}" if self.learner_id is not None else ""
        if iteration is not None:
            where += f" at iteration {iteration}"
        value = parse_metric_value(result, label, self.criterion.as_executable, where=where)
        key = iteration if iteration is not None else self.iteration
        self.metric_values_per_iteration[key] = value
        self.iteration += 1
        met = compare(value, self.criterion.threshold, self.criterion.operator)
        logger.info(
            "[%s] %s = %.6g (%s %s %g: %s)", self._label(), self.criterion.metric_name, value,
            "stop when", self.criterion.operator, self.criterion.threshold, "met" if met else "not met",
        )
        return met, value

    def compare_metric(self, metric_name: str, metric_value: float, threshold: float, operator: str = "") -> bool:
        """``metric_value OP threshold`` with the metric's registered (or given) operator."""
        return compare(metric_value, threshold, resolve_operator(metric_name, operator))

    # -- state --------------------------------------------------------------------------
    def register_state(self, key: str, value: Any) -> None:
        """Record a value for the current iteration and notify ``on_state_update`` callbacks."""
        self._state[key] = value
        for callback in list(self._state_callbacks):
            try:
                callback(key, value)
            except Exception:
                logger.warning("state callback %r failed for %r", callback, key, exc_info=True)

    def get_state(self, key: str, default: Any = None) -> Any:
        """A value recorded this iteration."""
        return self._state.get(key, default)

    def get_all_state(self) -> dict[str, Any]:
        """A copy of every value recorded this iteration."""
        return dict(self._state)

    def clear_state(self) -> None:
        """Forget this iteration's values (called at the start of each iteration)."""
        self._state.clear()

    def on_state_update(self, callback: Callable[[str, Any], None]) -> None:
        """Call ``callback(key, value)`` whenever a state value is recorded."""
        self._state_callbacks.append(callback)

    def remove_state_callback(self, callback: Callable[[str, Any], None]) -> None:
        """Stop calling ``callback``."""
        if callback in self._state_callbacks:
            self._state_callbacks.remove(callback)

    def _extract_state_from_result(self, result: Any, exclude_keys: set[str] | None = None) -> None:
        if isinstance(result, Mapping):
            for key, value in result.items():
                if exclude_keys and key in exclude_keys:
                    continue
                self.register_state(str(key), value)

    @property
    def metric_history(self) -> list[float]:
        """Criterion values so far, in iteration order."""
        return [v for v in self.metric_values_per_iteration.values() if isinstance(v, (int, float))]

    def get_metric_results(self) -> dict[Any, Any]:
        """Criterion values by iteration (per learner for parallel learners)."""
        return dict(self.metric_values_per_iteration)

    def build_iteration_state(
        self,
        iteration: int,
        metric_value: float | None = None,
        should_stop: bool = False,
        current_config: Any = None,
    ) -> IterationState:
        """The state this learner yields for ``iteration``."""
        criterion = self.criterion
        state = IterationState(
            iteration=iteration,
            metric_name=criterion.metric_name if criterion else None,
            metric_value=metric_value,
            metric_threshold=criterion.threshold if criterion else None,
            metric_history=self.metric_history,
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

    # -- control ------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask the learner to stop after the current step (reported as ``stopped``)."""
        self._stop_requested = True

    @property
    def is_stopped(self) -> bool:
        """True once ``stop()`` was called."""
        return self._stop_requested

    def set_next_config(self, config: LearnerConfig) -> None:
        """Use ``config`` from the next iteration on (replaces the current one)."""
        if not isinstance(config, LearnerConfig):
            raise TypeError(f"set_next_config expects a LearnerConfig, got {config!r}")
        self._pending_config = config

    def ends_after(self, state: IterationState, max_iter: int = 0) -> bool:
        """True when the campaign ends after ``state``; records why in the stop reason.

        A met criterion ends it (``criterion_met``), then ``stop()`` (``stopped``), then
        the last of ``max_iter`` iterations (``max_iter_reached``). Learners call it right
        after yielding each state, so no work is prepared for an iteration that will not run.
        """
        if state.should_stop:
            self._stop_reason = "criterion_met"
        elif self.is_stopped:
            self._stop_reason = "stopped"
        elif max_iter and state.iteration + 1 >= max_iter:
            self._stop_reason = "max_iter_reached"
        else:
            return False
        return True

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
        """Describe this campaign for trackers and the journal."""
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
                resources={} if spec.resources.is_default() else _resources_dict(spec.resources),
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

    # -- the campaign -------------------------------------------------------------------
    @property
    def run_dir(self) -> str:
        """The campaign directory (created when the campaign starts)."""
        if self._run_dir is None:
            self._run_dir = overrides.resume_for(self)  # `rose run --resume RUN`
        if self._run_dir is None:
            from rose.engine import runs_root

            stamp = time.strftime("%Y%m%d-%H%M%S")
            base = os.path.join(runs_root(), f"{stamp}-{self.name.lower()}")
            path, n = base, 1
            while os.path.exists(path):
                n += 1
                path = f"{base}-{n}"
            self._run_dir = path
        return self._run_dir

    def prepare_resume(self, resume: str | os.PathLike[str] | bool | None) -> ResumePoint | None:
        """Load the journal of a previous run of this campaign to continue it.

        ``resume`` is the campaign directory (``True``: the newest one of this learner
        under the runs root). Finished iterations are not run again: the metric history
        and last state are restored and ``self.resume_point.next_iteration`` says where to
        continue. Learners call this from ``start()`` and consult :attr:`resume_point`.
        """
        if resume is None:
            resume = overrides.resume_for(self)  # `rose run --resume RUN`
        if resume is None or resume is False:
            self._resume = None
            return None
        run_dir = latest_run_dir(self.name) if resume is True else os.fspath(resume)  # type: ignore[arg-type]
        point = load_resume_point(run_dir, self.learner_id)
        self._run_dir = run_dir
        self._resume = point
        self.metric_values_per_iteration = {
            s["iteration"]: s["metric_value"] for s in point.states if s.get("metric_value") is not None
        }
        if point.states:
            last = IterationState.from_dict(point.states[-1])
            self._iteration_state = last.replace(metric_history=self.metric_history)
        logger.info("[%s] resuming %s at iteration %d", self._label(), run_dir, point.next_iteration)
        return point

    @property
    def resume_point(self) -> ResumePoint | None:
        """Where a resumed campaign continues (None for a fresh campaign)."""
        return self._resume

    def validate(self, max_iter: int = 0, **options: Any) -> None:
        """Check everything that can be checked before any compute is spent."""
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

    def start(self, *args: Any, **kwargs: Any) -> LearnerRun:
        """Run the campaign: ``async for state in learner.start(...)`` or ``await`` it."""
        self.validate(*args, **kwargs)
        return LearnerRun(lambda: self.run_campaign(self._iterate(*args, **kwargs), **kwargs))

    def _iterate(self, *args: Any, **kwargs: Any) -> AsyncIterator[IterationState]:
        raise NotImplementedError(f"{type(self).__name__} does not implement _iterate()")

    def _label(self) -> str:
        return f"{self.name}" if self.learner_id is None else f"{self.name}-{self.learner_id}"

    async def run_campaign(
        self, iterations: AsyncIterator[IterationState], *, journal: bool = True, **options: Any
    ) -> AsyncIterator[IterationState]:
        """Wrap a learner's iterations: journal, trackers, stop reason, cancellation."""
        self._stop_requested = False
        self._stop_reason = None
        self.check_resources()
        hub = TrackerHub([*self.trackers, *overrides.campaign_trackers(self)])  # + `rose run --tracker`
        if hub:
            self._task_listeners.append(hub.task)
        if journal:
            self._journal = Journal(self.run_dir)
            self._journal.open()
        manifest = self.build_manifest(max_iter=options.get("max_iter"), **self._manifest_extra(options))
        resume = self._resume
        if self._journal is not None:
            if resume is not None:
                self._journal.write("resume", learner_id=self.learner_id, next_iteration=resume.next_iteration)
            else:
                self._journal.write("start", learner_id=self.learner_id, manifest=manifest.to_dict())
        hub.start(manifest)
        reason = "error"
        started = time.monotonic()
        try:
            if resume is not None and resume.finished_reason is not None:
                logger.info("[%s] campaign %s already ended (%s); nothing to resume",
                            self._label(), resume.run_dir, resume.finished_reason)
                self._stop_reason = resume.finished_reason
                iterations = _nothing()
            async for state in iterations:
                hub.iteration(state)
                if self._journal is not None:
                    self._journal.write("iteration", learner_id=self.learner_id, state=state.to_dict(history=False))
                yield state
                if overrides.cap_reached(self, state):  # `rose run --max-iter N`
                    self._stop_reason = "max_iter_reached"
                    await iterations.aclose()  # type: ignore[attr-defined]
                    break
            reason = self._stop_reason or "max_iter_reached"
        except (GeneratorExit, asyncio.CancelledError, KeyboardInterrupt):
            reason = "stopped"
            if self._journal is not None:
                self._journal.write("interrupted", learner_id=self.learner_id, iteration=self._current_iteration)
            raise
        finally:
            if self._stop_requested and reason != "error":
                reason = "stopped"
            final = self._iteration_state
            logger.info(
                "[%s] finished: %s after %s iteration(s) in %.1f s", self._label(), reason,
                (final.iteration + 1) if final else 0, time.monotonic() - started,
            )
            if self._journal is not None:
                self._journal.write("stop", learner_id=self.learner_id, reason=reason,
                                    final=final.to_dict() if final else None)
                self._journal.close()
            if hub.task in self._task_listeners:
                self._task_listeners.remove(hub.task)
            await hub.close(final, reason)

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

    def _manifest_extra(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """Manifest fields a learner passes to ``run_campaign`` (``learner_configs``...)."""
        return {key: options[key] for key in ("parallel_count", "learner_configs", "extra") if key in options}


async def _nothing() -> AsyncIterator[IterationState]:
    return
    yield  # pragma: no cover - makes this an async generator


def latest_run_dir(name: str) -> str:
    """The newest campaign directory of learner ``name`` under the runs root."""
    from rose.engine import runs_root

    root = runs_root()
    suffix = f"-{name.lower()}"
    candidates = sorted(
        entry.path for entry in os.scandir(root) if entry.is_dir() and suffix in entry.name
    ) if os.path.isdir(root) else []
    if not candidates:
        raise FileNotFoundError(f"cannot resume: no campaign of {name} under {root}")
    return candidates[-1]


def _resources_dict(resources: Any) -> dict[str, Any]:
    from attrs import asdict

    return {k: v for k, v in asdict(resources).items() if v not in (None, {}, 0) or k == "gpus" and v}


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
