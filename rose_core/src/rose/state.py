"""``IterationState``: what a learner yields after every iteration."""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from attrs import asdict, define, evolve, field

__all__ = ["IterationBook", "IterationState", "jsonable"]

logger = logging.getLogger("rose.learner")


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
    if type(value) is dict:  # the usual case, before the slower abstract-class checks below
        return {str(k): jsonable(v) for k, v in value.items()}
    if type(value) is list:
        return [jsonable(v) for v in value]
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


class IterationBook:
    """The state a learner records during an iteration, its metric history and its last state.

    A mixin of :class:`rose.learner.Learner`: ``register_state`` and friends are part of the
    learner API. Values recorded while the loop replays finished iterations of a resumed
    campaign (:meth:`replaying`) reach no ``on_state_update`` callback.
    """

    learner_id: int | str | None
    iteration: int

    def _init_book(self) -> None:
        self.metric_values_per_iteration: dict[Any, Any] = {}
        self._history: list[float] = []  # the numbers of metric_values_per_iteration, kept as they come
        self._state: dict[str, Any] = {}
        self._state_callbacks: list[Callable[[str, Any], None]] = []
        self._replaying = False
        self._iteration_state: IterationState | None = None

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

    def restore_history(self, states: list[dict[str, Any]]) -> None:
        """Take the metric history and last state back from a journal's iteration states (resume)."""
        self.metric_values_per_iteration.clear()
        self.metric_values_per_iteration.update(
            (s["iteration"], s["metric_value"]) for s in states if s.get("metric_value") is not None
        )
        self._history[:] = self.metric_history
        if states:
            self._iteration_state = IterationState.from_dict(states[-1]).replace(metric_history=self.metric_history)

    def reset_history(self) -> None:
        """Forget the metric history (a new campaign; in place: a parallel parent holds the dict of its child)."""
        self.metric_values_per_iteration.clear()
        self._history.clear()

    def record_iteration(
        self,
        iteration: int,
        metric_value: float | None,
        should_stop: bool,
        current_config: Any,
        metric: tuple[str | None, float | None],
    ) -> IterationState:
        """The state for ``iteration`` (its metric joins the history); ``metric`` is (name, threshold)."""
        if metric_value is not None:
            if iteration not in self.metric_values_per_iteration and isinstance(metric_value, (int, float)):
                self._history.append(metric_value)
            self.metric_values_per_iteration[iteration] = metric_value
        self.iteration = iteration + 1
        state = IterationState(
            iteration=iteration,
            metric_name=metric[0],
            metric_value=metric_value,
            metric_threshold=metric[1],
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
