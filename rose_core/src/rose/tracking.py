"""Trackers: the protocol, the campaign manifest, and non-blocking dispatch.

A tracker is any object with ``on_start(manifest)``, ``on_iteration(state)`` and
``on_stop(final_state, reason)``, and optionally ``on_task(event)``: a dict with
``learner_id``, ``iteration``, ``task``, ``kind``, ``attempt``, ``status`` (``running``,
``done`` or ``failed``) and ``seconds``, sent when every task attempt starts and ends.
``reason`` is one of ``criterion_met``,
``max_iter_reached``, ``stopped`` (``stop()``, a ``break`` out of the loop, Ctrl-C) or
``error``. Learners call trackers from a worker thread, in order, so a slow tracker never
stalls tasks; a tracker that raises is logged with its name and never breaks the campaign
(see :mod:`rose.tracker_hub`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from attrs import define, field

from rose.state import IterationState, jsonable

__all__ = [
    "STOP_REASONS",
    "CriterionManifest",
    "PipelineManifest",
    "TaskManifest",
    "Tracker",
    "TrackerBase",
    "masked_env",
]

logger = logging.getLogger(__name__)

STOP_REASONS = ("criterion_met", "max_iter_reached", "stopped", "error")


def masked_env(resources: Mapping[str, Any]) -> dict[str, Any]:
    """``resources`` (a manifest's task resources) with every ``env`` value written as ``***``.

    For trackers that send resources somewhere else (MLflow, ClearML): the names stay, since
    they say what was set. The core already masks manifests (except the names listed in
    ``record_env``); this is the trackers' own guard for manifests built by other code.
    """
    out = dict(resources)
    env = out.get("env")
    if isinstance(env, Mapping):
        out["env"] = {str(k): "***" for k in env}
    elif env is not None:
        out["env"] = "***"
    return out


@runtime_checkable
class Tracker(Protocol):
    """What a tracker implements (duck-typed; subclass :class:`TrackerBase` for no-ops)."""

    def on_start(self, manifest: PipelineManifest) -> None:
        """Called once when the campaign starts."""

    def on_iteration(self, state: IterationState) -> None:
        """Called after every iteration of every learner."""

    def on_stop(self, final_state: IterationState | None, reason: str) -> None:
        """Called once at the end with the last state and why it ended."""


class TrackerBase:
    """A tracker that does nothing; override what you need."""

    def on_start(self, manifest: PipelineManifest) -> None:
        """Called once when the campaign starts."""

    def on_iteration(self, state: IterationState) -> None:
        """Called after every iteration of every learner."""

    def on_stop(self, final_state: IterationState | None, reason: str) -> None:
        """Called once at the end with the last state and why it ended."""


@define(kw_only=True)
class TaskManifest:
    """One registered task as trackers see it."""

    func_name: str
    func_module: str
    as_executable: bool
    kind: str = ""
    decor_kwargs: dict[str, Any] = field(factory=dict)
    log_params: dict[str, Any] = field(factory=dict)
    resources: dict[str, Any] = field(factory=dict)


@define(kw_only=True)
class CriterionManifest(TaskManifest):
    """The stop criterion: metric, threshold and the operator actually used."""

    metric_name: str = ""
    threshold: float = 0.0
    operator: str = ""


@define(kw_only=True)
class PipelineManifest:
    """What a campaign is: learner type, tasks, criterion, parallelism, run directory, backend."""

    learner_type: str
    tasks: dict[str, TaskManifest] = field(factory=dict)
    criterion: CriterionManifest | None = None
    parallel_count: int | None = None
    max_iter: int | None = None
    run_dir: str | None = None
    learner_configs: list[Any] = field(factory=list)
    extra: dict[str, Any] = field(factory=dict)
    #: the backend plugin's name (``local``, ``dask``, ``radical``...), None for an engine no plugin describes
    backend: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable view of the manifest.

        Every campaign writes it in its start record: a parallel campaign once per learner
        (256 in scenario 3 of ``benchmarks/``). When its tasks' options and the manifest's
        configurations hold plain values only (the usual case) the view is built field by
        field, about ten times faster than attrs' recursive ``asdict``; otherwise it is built
        that way. Both give the same dict.
        """
        if type(self) is not PipelineManifest:  # a subclass may have fields of its own
            from attrs import asdict

            return jsonable(asdict(self, recurse=True))  # type: ignore[no-any-return]
        tasks = {str(key): _plain_task(task) for key, task in self.tasks.items()}
        criterion = None if self.criterion is None else _plain_task(self.criterion)
        if (None in tasks.values() or (self.criterion is not None and criterion is None)
                or not _plain_list(self.learner_configs) or not _plain_map(self.extra)):
            from attrs import asdict

            return jsonable(asdict(self, recurse=True))  # type: ignore[no-any-return]
        return {
            "learner_type": self.learner_type,
            "tasks": tasks,
            "criterion": criterion,
            "parallel_count": jsonable(self.parallel_count),
            "max_iter": jsonable(self.max_iter),
            "run_dir": jsonable(self.run_dir),
            "learner_configs": jsonable(self.learner_configs),
            "extra": jsonable(self.extra),
            "backend": jsonable(self.backend),
        }


#: values ``jsonable(attrs.asdict(...))`` gives back unchanged or converts without recursing
_PLAIN = (type(None), bool, int, float, str)


def _plain(value: Any) -> bool:
    """True when ``value`` is plain: a scalar of :data:`_PLAIN`, or a dict (string keys), list or
    tuple of plain values. ``attrs.asdict`` then has nothing to convert in it."""
    kind = type(value)
    if kind in _PLAIN:
        return True
    if kind is dict:
        return all(type(key) is str and _plain(item) for key, item in value.items())
    if kind is list or kind is tuple:
        return all(_plain(item) for item in value)
    return False


def _plain_map(value: Any) -> bool:
    """True for a plain dict (see :func:`_plain`)."""
    return type(value) is dict and _plain(value)


def _plain_list(value: Any) -> bool:
    """True for a plain list (see :func:`_plain`)."""
    return type(value) is list and _plain(value)


def _plain_task(task: TaskManifest) -> dict[str, Any] | None:
    """``task`` as ``jsonable(asdict(task))`` gives it, or None when it holds other than plain values."""
    if type(task) not in (TaskManifest, CriterionManifest):  # a subclass may have fields of its own
        return None
    if not (_plain_map(task.decor_kwargs) and _plain_map(task.log_params) and _plain_map(task.resources)
            and type(task.func_name) is str and type(task.func_module) is str and type(task.kind) is str):
        return None
    out: dict[str, Any] = {
        "func_name": task.func_name,
        "func_module": task.func_module,
        "as_executable": jsonable(task.as_executable),
        "kind": task.kind,
        "decor_kwargs": jsonable(task.decor_kwargs),
        "log_params": jsonable(task.log_params),
        "resources": jsonable(task.resources),
    }
    if type(task) is CriterionManifest:
        out["metric_name"] = jsonable(task.metric_name)
        out["threshold"] = jsonable(task.threshold)
        out["operator"] = jsonable(task.operator)
    return out
