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
import math
import numbers
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from attrs import define, field

from rose.config import LearnerConfig
from rose.state import IterationState, jsonable

__all__ = [
    "STOP_REASONS",
    "CriterionManifest",
    "PipelineManifest",
    "TaskManifest",
    "Tracker",
    "TrackerBase",
    "campaign_params",
    "config_params",
    "masked_env",
    "masked_manifest",
    "number",
    "state_metrics",
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


def masked_manifest(manifest: PipelineManifest) -> dict[str, Any]:
    """``manifest.to_dict()`` with the ``env`` values of every task's and the criterion's ``resources`` and
    ``decor_kwargs`` written as ``***`` (see :func:`masked_env`): for trackers that store the manifest."""
    document = manifest.to_dict()
    for section in [*(document.get("tasks") or {}).values(), document.get("criterion")]:
        for key in ("resources", "decor_kwargs"):
            if isinstance(section, dict) and isinstance(section.get(key), Mapping):
                section[key] = masked_env(section[key])
    return document


def number(value: Any, *, parse_strings: bool = False) -> float | None:
    """A float for a numeric value, else None: ints and floats (non-finite ones too), bools as 0/1,
    numpy scalars and 0-d arrays; with ``parse_strings``, finite numeric text (``" 0.01 "``)."""
    if type(value) is float or type(value) is int:
        return float(value)
    if isinstance(value, str):
        if not parse_strings:
            return None
        try:
            parsed = float(value.strip())
        except ValueError:
            return None
        return parsed if math.isfinite(parsed) else None
    if isinstance(value, numbers.Real) or (getattr(value, "shape", None) == () and callable(getattr(value, "item", None))):
        try:  # numpy scalars and bool_, 0-d arrays
            return float(value)
        except (TypeError, ValueError, OverflowError):
            return None
    return None


def state_metrics(state: IterationState) -> dict[str, float]:
    """The numbers of one iteration, for trackers that record metrics: the criterion value (under its
    metric name, else ``metric``), then every numeric value the tasks returned (see :func:`number`)."""
    metrics: dict[str, float] = {}
    if state.metric_value is not None and (value := number(state.metric_value)) is not None:
        metrics[state.metric_name or "metric"] = value
    for name, raw in state.state.items():
        if (value := number(raw)) is not None:
            metrics.setdefault(str(name), value)
    return metrics


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


def campaign_params(manifest: PipelineManifest) -> dict[str, Any]:
    """A campaign's parameters as flat ``name: value`` pairs, for trackers that record parameters.

    ``learner_type``, ``parallel_count``, ``max_iter``; ``criterion/<field>`` and the criterion's
    ``log_params``; ``task/<task>/as_executable|function|kind|resources/<key>`` (``env`` values
    masked) and each task's ``log_params``; each learner's configuration at iteration 0 (see
    :func:`config_params`; ``learner_<i>/config/...`` when there are several); ``extra/<key>``.
    Values are left as they are (each tracker writes them in its own way).
    """
    raw: dict[str, Any] = {"learner_type": manifest.learner_type}
    raw.update({key: value for key, value in (("parallel_count", manifest.parallel_count), ("max_iter", manifest.max_iter))
                if value is not None})
    if (crit := manifest.criterion) is not None:
        raw.update({"criterion/metric_name": crit.metric_name, "criterion/threshold": crit.threshold,
                    "criterion/operator": crit.operator, "criterion/as_executable": crit.as_executable,
                    "criterion/function": f"{crit.func_module}.{crit.func_name}".lstrip("."),
                    **{f"criterion/{key}": value for key, value in crit.log_params.items()}})
    for name, task in manifest.tasks.items():
        raw.update({f"task/{name}/as_executable": task.as_executable,
                    f"task/{name}/function": f"{task.func_module}.{task.func_name}".lstrip("."),
                    **({f"task/{name}/kind": task.kind} if task.kind and task.kind != name else {}),
                    **{f"task/{name}/resources/{key}": value for key, value in masked_env(task.resources).items()},
                    **{f"task/{name}/{key}": value for key, value in task.log_params.items()}})
    configs = list(manifest.learner_configs or ())
    for index, config in enumerate(configs):
        raw.update(config_params(config, 0, manifest, "config" if len(configs) == 1 else f"learner_{index}/config"))
    raw.update({f"extra/{key}": value for key, value in (manifest.extra or {}).items()})
    return raw


def config_params(config: Any, iteration: int, manifest: PipelineManifest, prefix: str = "config") -> dict[str, Any]:
    """``{"<prefix>/<task>/<key>": value, "<prefix>/<task>/args": [...]}``: the configuration each task gets at
    ``iteration`` from ``config`` (a LearnerConfig, or its ``to_dict()`` form as in a manifest).

    Each task of the manifest (and its criterion) is resolved by the one rule, :meth:`LearnerConfig.resolve`;
    every configured task when the manifest lists none. Unreadable configurations and failing schedules
    give nothing (logged at debug level): describing a campaign never stops it.
    """
    if config is None:
        return {}
    try:
        config = LearnerConfig.from_dict(config) if isinstance(config, Mapping) else config
    except (TypeError, ValueError):
        logger.debug("the learner configuration %r is not readable", config)
        return {}
    if not isinstance(config, LearnerConfig):
        return {}
    kinds = {name: task.kind or name for name, task in manifest.tasks.items()}
    if not kinds:
        kinds = {name: name for name in [*(key for key in config.to_dict() if key != "tasks"), *config.tasks]}
    elif manifest.criterion is not None:
        kinds["criterion"] = "criterion"
    out: dict[str, Any] = {}
    for name, kind in kinds.items():
        try:
            found = config.resolve(name, iteration, kind)
        except Exception as exc:  # noqa: BLE001 - a user schedule failing must not stop tracking
            logger.debug("could not resolve the %r configuration at iteration %d: %s", name, iteration, exc)
            continue
        if found is not None:
            out.update({f"{prefix}/{name}/args": list(found.args)} if found.args else {})
            out.update({f"{prefix}/{name}/{key}": value for key, value in (found.kwargs or {}).items()})
    return out
