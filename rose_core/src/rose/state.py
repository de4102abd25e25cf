"""``IterationState``: what a learner yields after every iteration."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from attrs import asdict, define, evolve, field

__all__ = ["IterationState", "jsonable"]


@define(kw_only=True)
class IterationState:
    """One iteration of one learner.

    Values returned by tasks as dicts are in ``state`` and readable as attributes
    (``state.labeled_count``); an unknown attribute raises AttributeError listing what
    the state holds, rather than returning None for a typo.
    """

    iteration: int
    metric_name: str | None = None
    metric_value: float | None = None
    metric_threshold: float | None = None
    metric_history: list[float] = field(factory=list)
    should_stop: bool = False
    current_config: Any = None
    learner_id: int | str | None = None
    state: dict[str, Any] = field(factory=dict)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == "state":
            raise AttributeError(name)
        try:
            values = object.__getattribute__(self, "state")
        except AttributeError:
            raise AttributeError(name) from None
        if name in values:
            return values[name]
        raise AttributeError(
            f"IterationState has no field or state value {name!r}; the tasks of this "
            f"iteration reported {sorted(values) or 'nothing'} (use state.get({name!r}) "
            f"for an optional value)"
        )

    def get(self, key: str, default: Any = None) -> Any:
        """A state value reported by a task this iteration, or ``default``."""
        return self.state.get(key, default)

    def replace(self, **changes: Any) -> IterationState:
        """A copy with some fields changed (``state.replace(learner_id=1)``)."""
        return evolve(self, **changes)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], current_config: Any = None) -> IterationState:
        """Rebuild a state written by :meth:`to_dict` (e.g. from the journal)."""
        return cls(
            iteration=int(data["iteration"]),
            metric_name=data.get("metric_name"),
            metric_value=data.get("metric_value"),
            metric_threshold=data.get("metric_threshold"),
            metric_history=list(data.get("metric_history") or []),
            should_stop=bool(data.get("should_stop", False)),
            current_config=current_config,
            learner_id=data.get("learner_id"),
            state=dict(data.get("state") or {}),
        )

    def to_dict(self, *, history: bool = True) -> dict[str, Any]:
        """A JSON-serialisable dict: the fields, then state keys that do not clash.

        ``history=False`` leaves out ``metric_history`` (the journal does: every
        iteration's own value is already on its line, and the list grows with the run).
        """
        out: dict[str, Any] = {
            "iteration": self.iteration,
            "metric_name": self.metric_name,
            "metric_value": self.metric_value,
            "metric_threshold": self.metric_threshold,
            "metric_history": list(self.metric_history) if history else None,
            "should_stop": self.should_stop,
            "learner_id": self.learner_id,
            "current_config": _config_dict(self.current_config),
        }
        for key, value in self.state.items():
            out.setdefault(key, value)
        out["state"] = dict(self.state)
        result: dict[str, Any] = jsonable(out)
        return result


def _config_dict(config: Any) -> Any:
    if config is None:
        return None
    to_dict = getattr(config, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    try:
        return asdict(config)
    except (TypeError, ValueError):  # not an attrs instance
        return repr(config)


def jsonable(value: Any) -> Any:
    """Convert numpy scalars/arrays, tuples, sets and non-finite floats to JSON values."""
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    tolist = getattr(value, "tolist", None)  # numpy scalars and arrays
    if callable(tolist):
        return jsonable(tolist())
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return jsonable(to_dict())
    return repr(value)
