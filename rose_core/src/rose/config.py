"""What users write to configure tasks: ``TaskConfig`` and ``LearnerConfig``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Union

from attrs import define, field, fields, frozen

from rose.errors import RoseError

__all__ = [
    "AdaptiveSchedule",
    "IterationSchedule",
    "LearnerConfig",
    "Schedule",
    "TaskConfig",
    "TaskConfigValue",
    "UnknownTaskError",
    "check_learner_config",
    "check_task_names",
    "config_class_for",
    "kind_classes",
    "task_field",
    "task_kinds",
    "resolve_task_config",
]


def _as_tuple(value: Any) -> tuple[Any, ...]:
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise TypeError(f"TaskConfig.args must be a tuple or list, got {value!r}")
    return tuple(value)


def _as_dict(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"TaskConfig.kwargs must be a dict, got {value!r}")
    return dict(value)


@frozen(kw_only=False)
class TaskConfig:
    """Arguments for one task: ``TaskConfig(args=(), kwargs={})``.

    ``kwargs`` are passed as keyword arguments to the task function; the common idiom is
    command-line style keys read inside the function::

        TaskConfig(kwargs={"--n_labeled": "200"})
    """

    args: tuple[Any, ...] = field(default=(), converter=_as_tuple)
    kwargs: dict[str, Any] = field(factory=dict, converter=_as_dict)

    @classmethod
    def coerce(cls, value: Any, where: str = "task") -> TaskConfig:
        """Accept a TaskConfig or a ``{"args": ..., "kwargs": ...}`` dict."""
        if isinstance(value, TaskConfig):
            return value
        if isinstance(value, Mapping):
            unknown = set(value) - {"args", "kwargs"}
            if unknown:
                raise ValueError(
                    f"{where}: unknown key(s) {sorted(unknown)} in {dict(value)!r}; "
                    f"a task configuration has only 'args' and 'kwargs'"
                )
            return cls(args=value.get("args", ()), kwargs=value.get("kwargs", {}))
        raise TypeError(
            f"{where}: expected a TaskConfig or a dict with 'args'/'kwargs', got {value!r}"
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict (``args`` as a list)."""
        return {"args": list(self.args), "kwargs": dict(self.kwargs)}


# -- task schedules: an iteration number -> a TaskConfig ------------------------------


class Schedule:
    """Base class: ``config_for(iteration)`` returns a TaskConfig or None (defaults)."""

    task_name: str = ""

    def config_for(self, iteration: int) -> TaskConfig | None:  # pragma: no cover - abstract
        """The task configuration for ``iteration``."""
        raise NotImplementedError

    def __getitem__(self, iteration: int) -> TaskConfig | None:
        return self.config_for(iteration)


class AdaptiveSchedule(Schedule):
    """Calls ``fn(iteration)`` lazily, once per iteration, for any iteration number.

    ``fn`` returns ``{"args": ..., "kwargs": ...}`` (either key optional), a TaskConfig,
    or None to use the task's defaults.
    """

    def __init__(self, task_name: str, fn: Callable[[int], Any]) -> None:
        if not callable(fn):
            raise TypeError(
                f"create_adaptive_schedule({task_name!r}, fn): fn must be a function of the "
                f"iteration number, got {fn!r}"
            )
        self.task_name = task_name
        self.fn = fn
        self._cache: dict[int, TaskConfig | None] = {}

    def config_for(self, iteration: int) -> TaskConfig | None:
        """Evaluate (and remember) the schedule for ``iteration``."""
        if iteration not in self._cache:
            value = self.fn(iteration)
            self._cache[iteration] = (
                None
                if value is None
                else TaskConfig.coerce(
                    value, where=f"adaptive schedule for {self.task_name!r} at iteration {iteration}"
                )
            )
        return self._cache[iteration]

    def __repr__(self) -> str:
        return f"AdaptiveSchedule({self.task_name!r}, {getattr(self.fn, '__name__', self.fn)})"


class IterationSchedule(Schedule, Mapping[Any, "TaskConfig"]):
    """Fixed checkpoints: exact iteration, then ``-1``, then ``"default"``, else None."""

    def __init__(self, task_name: str, schedule: Mapping[Any, Any]) -> None:
        if not isinstance(schedule, Mapping):
            raise TypeError(
                f"create_iteration_schedule({task_name!r}, schedule): schedule must be a dict "
                f"like {{0: {{'kwargs': {{...}}}}, -1: {{...}}}}, got {schedule!r}"
            )
        self.task_name = task_name
        self._items: dict[Any, TaskConfig] = {}
        for key, value in schedule.items():
            if not (isinstance(key, int) and not isinstance(key, bool)) and key != "default":
                raise TypeError(
                    f"create_iteration_schedule({task_name!r}): keys must be iteration "
                    f"numbers, -1 or 'default'; got {key!r}"
                )
            self._items[key] = TaskConfig.coerce(
                value, where=f"iteration schedule for {task_name!r}[{key!r}]"
            )

    def config_for(self, iteration: int) -> TaskConfig | None:
        """Exact iteration, then -1, then 'default', else None."""
        for key in (iteration, -1, "default"):
            if key in self._items:
                return self._items[key]
        return None

    def __getitem__(self, key: Any) -> TaskConfig:  # type: ignore[override]
        return self._items[key]

    def __iter__(self) -> Any:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"IterationSchedule({self.task_name!r}, {self._items!r})"


TaskConfigValue = Union[TaskConfig, Mapping[Any, TaskConfig], Schedule, None]
"""What a ``LearnerConfig`` field holds: one config, a per-iteration dict, or a schedule."""


def _check_field(instance: Any, attribute: Any, value: Any) -> None:
    name = f"LearnerConfig.{attribute.name}"
    if value is None or isinstance(value, (TaskConfig, Schedule)):
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not (isinstance(key, int) and not isinstance(key, bool)) and key != "default":
                raise TypeError(
                    f"{name}: per-iteration keys must be iteration numbers (use -1 or "
                    f"'default' for the fallback), got key {key!r}"
                )
            if not isinstance(item, TaskConfig):
                raise TypeError(
                    f"{name}[{key!r}]: expected a TaskConfig, got {item!r}; write "
                    f"TaskConfig(kwargs={{...}})"
                )
        return
    if callable(value):
        raise TypeError(
            f"{name}: got a bare function {value!r}; wrap it with "
            f"learner.create_adaptive_schedule({attribute.name!r}, fn)"
        )
    raise TypeError(
        f"{name}: expected a TaskConfig, a {{iteration: TaskConfig}} dict or a schedule, "
        f"got {value!r}"
    )


def _check_named(instance: Any, attribute: Any, value: Mapping[str, Any]) -> None:
    for name, item in value.items():
        _check_field(instance, _Named(f"tasks[{name!r}]"), item)


class _Named:
    def __init__(self, name: str) -> None:
        self.name = name


def task_field() -> Any:
    """A :class:`LearnerConfig` field for one task kind: a plugin's configuration class declares its
    task kinds with it (``survey: TaskConfigValue = task_field()``)."""
    return field(default=None, validator=_check_field)


@define(kw_only=True, eq=True, init=False)  # our __init__ takes the fields of any installed kind
class LearnerConfig:
    """Per-learner task configuration.

    Each field is a :class:`TaskConfig` (every iteration), a ``{iteration: TaskConfig}``
    dict (exact iteration, then ``-1``, then ``"default"``, then the task's decorator
    defaults) or a schedule from ``learner.create_adaptive_schedule`` /
    ``create_iteration_schedule``. ``tasks`` addresses named tasks, such as one of
    several tasks of one kind: ``LearnerConfig(tasks={"env_1": TaskConfig(...)})``.

    The core's fields are ``simulation``, ``training`` and ``criterion``; the task kinds of a
    family of learners are fields of that family's configuration class, which its plugin
    provides (hook ``rose_learner_kinds``). ``LearnerConfig(<field>=...)`` with such a field
    builds that class (an instance of ``LearnerConfig`` too), so scripts need not name it.
    """

    simulation: TaskConfigValue = task_field()
    training: TaskConfigValue = task_field()
    criterion: TaskConfigValue = task_field()
    tasks: dict[str, TaskConfigValue] = field(factory=dict, validator=_check_named)

    def __new__(cls, **kwargs: Any) -> Any:
        """An instance of ``cls``, or of the installed configuration class that has every field given."""
        target = cls if set(kwargs) <= _field_names(cls) else config_class_for(cls, list(kwargs))
        return object.__new__(target)

    def __init__(self, **kwargs: Any) -> None:
        self.__attrs_init__(**kwargs)  # type: ignore[attr-defined]

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> LearnerConfig:
        """The configuration a :meth:`to_dict` form describes (a schedule, kept as its repr, is left out)."""
        values = {k: v for k, v in ((k, _from_dict(v)) for k, v in document.items() if k != "tasks") if v is not None}
        tasks = {str(k): v for k, v in ((k, _from_dict(v)) for k, v in (document.get("tasks") or {}).items())
                 if v is not None}
        return cls(**values, tasks=tasks)

    def get_task_config(self, task_name: str, iteration: int) -> TaskConfig | None:
        """The TaskConfig for ``task_name`` at ``iteration``, or None for the defaults.

        ``task_name`` is a field name (``"simulation"``) or a named task in ``tasks``.
        """
        if task_name in self.tasks:
            value = self.tasks[task_name]
        else:
            value = getattr(self, task_name, None) if task_name != "tasks" else None
        return resolve_task_config(value, iteration)

    def resolve(self, task_name: str, iteration: int, kind: str | None = None) -> TaskConfig | None:
        """The TaskConfig a task gets at ``iteration``: by its name, then by its ``kind``, else None.

        The one resolution rule of ROSE: the learner's task runs and trackers that describe
        a task's parameters both call it.
        """
        found = self.get_task_config(task_name, iteration)
        if found is None and kind is not None and kind != task_name:
            found = self.get_task_config(kind, iteration)
        return found

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly description (schedules are shown by their repr)."""
        out = {f.name: _describe(value) for f in fields(type(self))
               if f.name != "tasks" and (value := getattr(self, f.name)) is not None}
        if self.tasks:
            out["tasks"] = {k: _describe(v) for k, v in self.tasks.items()}
        return out


def check_learner_config(config: Any, where: str) -> LearnerConfig | None:
    """``config`` if it is a LearnerConfig or None, else a TypeError naming ``where``."""
    if config is None or isinstance(config, LearnerConfig):
        return config
    raise TypeError(
        f"{where} must be a LearnerConfig or None (None uses the base tasks' own defaults), "
        f"got {config!r}"
    )


class UnknownTaskError(RoseError, ValueError):
    """A ``LearnerConfig(tasks={...})`` key that names no task of the learner."""


def check_task_names(config: LearnerConfig | None, learner: Any, where: str) -> LearnerConfig | None:
    """``config``, unless a ``config.tasks`` key names no task of ``learner`` (its ``tasks``: name ->
    spec with a ``kind``) and no task kind: such an entry would be dropped silently, so it is an
    :class:`UnknownTaskError` naming the key, the learner's tasks and the closest one."""
    if config is None or not config.tasks:
        return config
    tasks = {str(name): str(spec.kind) for name, spec in learner.tasks.items()}
    owner = type(learner).__name__
    names = list(tasks)
    kinds = list(dict.fromkeys(tasks.values()))
    for key in config.tasks:
        if key in tasks or key in kinds:
            continue
        import difflib

        scored = [(difflib.SequenceMatcher(None, key, name).ratio(), -index, name)
                  for index, name in enumerate(names + [k for k in kinds if k not in tasks])]
        best = max(scored, default=(0.0, 0, ""))
        hint = f" (did you mean {best[2]!r}?)" if best[0] >= 0.6 else ""
        listed = ", ".join(name if kind == name else f"{name} ({kind})" for name, kind in sorted(tasks.items()))
        raise UnknownTaskError(
            f"{where}: LearnerConfig(tasks={{{key!r}: ...}}) names no task of this {owner}{hint}; its tasks are "
            f"{listed or 'none yet'}. Use a registered task's name (or a task kind, for every task of that kind), "
            f"or register the task before start()."
        )
    return config


def kind_classes() -> dict[str, type[LearnerConfig]]:
    """The configuration class of each kind of learner the installed plugins provide (kind -> class)."""
    from rose.plugins import plugin_problem, registry

    out: dict[str, type[LearnerConfig]] = {}
    for name, spec in registry().learner_kinds.items():
        found = spec.factory()
        if isinstance(found, type) and issubclass(found, LearnerConfig):
            out[name] = found
        else:
            plugin_problem(f"learner kind {name!r}: its factory must return a subclass of rose.config.LearnerConfig, "
                           f"got {found!r}; it is ignored")
    return out


def task_kinds(cls: type[LearnerConfig]) -> list[str]:
    """The task kinds configuration class ``cls`` adds to the core's (its fields beyond LearnerConfig's)."""
    base = _field_names(LearnerConfig)
    return [f.name for f in fields(cls) if f.name not in base]


def _owners(kinds: Mapping[str, type[LearnerConfig]]) -> dict[str, str]:
    """Task kind -> ``"ClassName, the 'kind' learners"`` of the most general installed class that has it."""
    owner: dict[str, tuple[str, type[LearnerConfig]]] = {}
    for kind, cls in kinds.items():
        for task in task_kinds(cls):
            if task not in owner or issubclass(owner[task][1], cls):
                owner[task] = (kind, cls)
    return {task: f"{cls.__name__}, the {kind!r} learners" for task, (kind, cls) in owner.items()}


def config_class_for(cls: type[LearnerConfig], names: Sequence[str]) -> type[LearnerConfig]:
    """The installed configuration class (``cls`` or one derived from it) that has every field of
    ``names``, the most general one if several do; otherwise a TypeError naming each unknown field,
    where it comes from (or the plugin to install, or the closest field) and the valid fields."""
    kinds = kind_classes()
    found = [k for k in dict.fromkeys(kinds.values()) if issubclass(k, cls) and set(names) <= _field_names(k)]
    general = [k for k in found if not any(o is not k and issubclass(k, o) for o in found)]
    if len(general) == 1:
        return general[0]
    if general:
        raise TypeError(f"{cls.__name__}({', '.join(names)}): several configuration classes have these fields "
                        f"({', '.join(k.__name__ for k in general)}); build the one you mean by its name")
    from rose.deprecations import PLUGIN_TASK_KINDS

    owners, own = _owners(kinds), _field_names(cls)
    known = sorted(own | {n for k in kinds.values() if issubclass(k, cls) for n in _field_names(k)})
    hints = []
    for key in (n for n in names if n not in own):
        if key in owners:
            hints.append(f"{key!r} ({owners[key]})")
        elif key in PLUGIN_TASK_KINDS:
            hints.append(f"{key!r} (a task kind of {PLUGIN_TASK_KINDS[key]}, which is not installed: "
                         f"pip install {PLUGIN_TASK_KINDS[key]})")
        else:
            import difflib

            close = difflib.get_close_matches(key, [*known, *owners], n=1)
            hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    unknown = [n for n in names if n not in own]
    if all(n in owners for n in unknown):
        raise TypeError(f"{cls.__name__} got task kinds of different kinds of learner: {', '.join(hints)}; one "
                        f"configuration holds the tasks of one kind of learner: give each learner its own")
    raise TypeError(f"{cls.__name__} got unknown field(s) {', '.join(hints)}; valid fields: {', '.join(known)}")


def resolve_task_config(value: TaskConfigValue, iteration: int) -> TaskConfig | None:
    """Resolve one field value for an iteration (see :class:`LearnerConfig`)."""
    if value is None:
        return None
    if isinstance(value, TaskConfig):
        return value
    if isinstance(value, Schedule):
        return value.config_for(iteration)
    if isinstance(value, Mapping):
        for key in (iteration, -1, "default"):
            if key in value:
                return value[key]
        return None
    raise TypeError(f"cannot resolve a task configuration from {value!r}")


def _field_names(cls: type) -> set[str]:
    return {f.name for f in fields(cls)}


def _from_dict(value: Any) -> Any:
    """A TaskConfig or a per-iteration table of them from its ``to_dict()`` form; None for a schedule's repr."""
    if not isinstance(value, Mapping) or not value:
        return None
    if set(value) <= {"args", "kwargs"}:
        return TaskConfig(args=value.get("args") or (), kwargs=value.get("kwargs") or {})
    table = {int(k) if str(k).lstrip("-").isdigit() else k: _from_dict(v) for k, v in value.items()}
    return {k: v for k, v in table.items() if v is not None} or None


def _describe(value: Any) -> Any:
    if isinstance(value, TaskConfig):
        return value.to_dict()
    if isinstance(value, Mapping):
        return {str(k): _describe(v) for k, v in value.items()}
    return repr(value)


ConfigFactory = Callable[[int], Mapping[str, Any]]
