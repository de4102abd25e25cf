"""Query policies: which candidates an active-learning campaign labels next.

A policy is any object implementing :class:`Policy`. Plugins provide them by name through
the ``rose_policies`` hook (``rose plugins -v`` lists them); users get one with
``rose.policy(name, **options)``::

    policy = rose.policy("max-variance")
    picks = policy.select(pool, k=4, predictions=ensemble_predictions, pending=in_flight)

``select`` returns indices into ``candidates``: ``k`` distinct ones, never a candidate
equal to one of the ``pending`` points (points sent to a simulation whose label has not
come back yet). A learner that keeps simulations in flight passes them as ``pending`` and
can never select the same point twice. ``observe(points, values)`` tells a stateful
policy (a Bayesian optimiser, an Optuna study) which labels arrived.

:class:`PolicyBase` does the bookkeeping (checking ``k``, excluding pending points,
seeding) so a policy only ranks the available candidates. :func:`as_task` turns a policy
into the body of a function task (``as_executable=False``) of the learner's selection step,
so a policy can be used in a campaign without writing a selection script.

This module does not import numpy: candidates may be lists, tuples or numpy arrays.
"""

from __future__ import annotations

import json
import logging
import os
import random
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from rose.errors import RoseError

__all__ = [
    "Policy",
    "PolicyBase",
    "PolicyError",
    "as_task",
    "available_indices",
    "point_key",
]

logger = logging.getLogger(__name__)


class PolicyError(RoseError, ValueError):
    """A selection request a policy cannot satisfy (too few candidates, a bad ``k``...)."""


@runtime_checkable
class Policy(Protocol):
    """The public interface of a query policy.

    ``batch_aware``: a batch of ``k`` is chosen jointly (the picks account for each other,
    e.g. they are kept apart), not as the ``k`` best independent scores.
    ``pending_aware``: beyond excluding pending points (which every policy does), the
    policy accounts for them, e.g. treats them as already labelled when it spreads a batch
    out (kriging believer) or reports them to its optimiser as running trials (constant liar).
    """

    name: str
    batch_aware: bool
    pending_aware: bool

    def select(
        self,
        candidates: Sequence[Any],
        *,
        k: int,
        scores: Sequence[float] | None = None,
        predictions: Any = None,
        pending: Iterable[Any] = (),
        rng: Any = None,
    ) -> list[int]:
        """Indices of ``k`` distinct candidates to label next, best first.

        ``scores`` holds one number per candidate (an uncertainty, an acquisition value);
        ``predictions`` is whatever model output the policy documents (an ensemble's
        predictions, class probabilities, a mean and a standard deviation); ``pending``
        are points in flight (same form as a candidate), never selected; ``rng`` is a seed
        or a random generator (the same seed gives the same selection).
        Raises :class:`PolicyError` when fewer than ``k`` candidates are available.
        """
        ...

    def observe(self, points: Sequence[Any], values: Sequence[float]) -> None:
        """Record labels that arrived: ``values[i]`` is the label of ``points[i]``."""
        ...


def point_key(point: Any) -> tuple[Any, ...]:
    """A hashable form of a candidate point (a number, a sequence or a numpy row).

    Two points are the same when their coordinates are equal: a pending point matches the
    candidate it was taken from.
    """
    if hasattr(point, "tolist"):
        point = point.tolist()
    if isinstance(point, (list, tuple)):
        return tuple(point_key(item) if isinstance(item, (list, tuple)) else _scalar(item) for item in point)
    return (_scalar(point),)


def _scalar(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    return float(value)


def _rows(candidates: Any) -> list[Any]:
    if hasattr(candidates, "tolist"):
        rows = candidates.tolist()
        return rows if isinstance(rows, list) else [rows]
    return list(candidates)


def available_indices(candidates: Sequence[Any], pending: Iterable[Any] = ()) -> list[int]:
    """Indices of the candidates that are not one of the ``pending`` points."""
    return _available(_rows(candidates), pending)


def _available(rows: list[Any], pending: Any) -> list[int]:
    pending_keys = {point_key(p) for p in _rows(pending)} if not _is_empty(pending) else set()
    if not pending_keys:
        return list(range(len(rows)))
    return [i for i, row in enumerate(rows) if point_key(row) not in pending_keys]


def _is_empty(values: Any) -> bool:
    if values is None:
        return True
    size = getattr(values, "size", None)
    if size is not None:
        return bool(size == 0)
    return len(values) == 0 if hasattr(values, "__len__") else False


def _check_k(name: str, k: Any) -> int:
    if isinstance(k, bool) or not hasattr(k, "__index__"):
        raise PolicyError(f"policy {name!r}: k must be a whole number >= 1, got {k!r}")
    value = int(k)
    if value < 1:
        raise PolicyError(f"policy {name!r}: k must be a whole number >= 1, got {k!r}")
    return value


class PolicyBase:
    """A convenient base for policies: subclasses implement :meth:`rank` only.

    :meth:`select` checks ``k``, removes the pending candidates, makes the random
    generator (``rng`` argument, else the ``seed`` given at construction), asks
    :meth:`rank` for an order of the available candidates, and returns the first ``k``
    after checking they are distinct and available. :meth:`observe` keeps the labels in
    ``observed_points`` / ``observed_values``.
    """

    name: str = "policy"
    batch_aware: bool = False
    pending_aware: bool = False

    def __init__(self, *, seed: int | None = None) -> None:
        self.seed = seed
        self._rng: Any = None
        self.observed_points: list[Any] = []
        self.observed_values: list[float] = []

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"

    # -- what subclasses implement ---------------------------------------------------------
    def rank(
        self,
        candidates: Sequence[Any],
        available: list[int],
        *,
        k: int,
        scores: Sequence[float] | None,
        predictions: Any,
        pending: Sequence[Any],
        rng: Any,
    ) -> Sequence[int]:
        """Order (at least ``k`` of) the ``available`` candidate indices, best first."""
        raise NotImplementedError(f"{type(self).__name__} must implement rank()")

    def make_rng(self, seed: Any) -> Any:
        """A random generator from a seed (``random.Random``; numpy policies return a Generator)."""
        return random.Random(seed)

    # -- the protocol ----------------------------------------------------------------------
    def select(
        self,
        candidates: Sequence[Any],
        *,
        k: int,
        scores: Sequence[float] | None = None,
        predictions: Any = None,
        pending: Iterable[Any] = (),
        rng: Any = None,
    ) -> list[int]:
        """Indices of ``k`` distinct, non-pending candidates, best first (see :class:`Policy`)."""
        k = _check_k(self.name, k)
        pending_rows = [] if _is_empty(pending) else _rows(pending)
        rows = _rows(candidates)
        total = len(rows)
        available = _available(rows, pending_rows)
        if k > len(available):
            raise PolicyError(
                f"policy {self.name!r} was asked for k={k} candidates but only {len(available)} of {total} "
                f"are available ({total - len(available)} are pending): pass more candidates or a smaller k"
            )
        if scores is not None and len(scores) != total:
            raise PolicyError(
                f"policy {self.name!r}: {len(scores)} scores for {total} candidates; "
                f"give one score per candidate"
            )
        order = self.rank(candidates, available, k=k, scores=scores, predictions=predictions,
                          pending=pending_rows, rng=self._generator(rng))
        picked = [int(i) for i in list(order)[:k]]
        allowed = set(available)
        if len(set(picked)) != k or not allowed.issuperset(picked):
            raise PolicyError(
                f"policy {self.name!r} ranked {picked!r}: expected {k} distinct indices of available "
                f"candidates (a bug in the policy's rank())"
            )
        return picked

    def observe(self, points: Sequence[Any], values: Sequence[float]) -> None:
        """Keep the labels that arrived (``observed_points``, ``observed_values``)."""
        points, values = _rows(points), [float(v) for v in _rows(values)]
        if len(points) != len(values):
            raise PolicyError(f"policy {self.name!r}: {len(points)} points but {len(values)} values to observe")
        self.observed_points.extend(points)
        self.observed_values.extend(values)

    def _generator(self, rng: Any) -> Any:
        if rng is None:
            if self._rng is None:
                self._rng = self.make_rng(self.seed)
            return self._rng
        if isinstance(rng, (int, str, bytes)) and not isinstance(rng, bool):
            return self.make_rng(rng)
        return rng  # a generator the caller owns


# -- a policy as an active-learning task ------------------------------------------------------

_REQUEST_KEYS = ("candidates", "scores", "predictions", "pending", "observed_points", "observed_values", "k")


def _load_request(source: str) -> dict[str, Any]:
    if source.endswith(".json"):
        with open(source, encoding="utf-8") as handle:
            loaded = json.load(handle)
        if not isinstance(loaded, dict):
            raise PolicyError(f"{source}: expected a JSON object with a 'candidates' list")
        return loaded
    if source.endswith(".npz"):
        import numpy as np  # only for .npz requests

        with np.load(source, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    raise PolicyError(f"selection request {source!r}: expected a .json or .npz file")


def _find_request(upstream: Sequence[Any], source: str | None) -> dict[str, Any]:
    if source is not None:
        return _load_request(source)
    for item in reversed(upstream):
        if isinstance(item, Mapping) and "candidates" in item:
            return dict(item)
        if isinstance(item, str) and item.strip().endswith((".json", ".npz")) and os.path.exists(item.strip()):
            return _load_request(item.strip())
    raise PolicyError(
        "no selection request found: the training (or prediction) task must return a dict with "
        "'candidates' (and 'scores' or 'predictions', optionally 'pending'), or the path of a .json/.npz "
        "file holding them; or set source='request.json' in the selecting task's TaskConfig kwargs"
    )


def _plain(value: Any) -> Any:
    return value.tolist() if hasattr(value, "tolist") else value


def as_task(
    policy: Policy,
    *,
    k: int | None = None,
    output: str | None = None,
) -> Callable[..., Awaitable[dict[str, Any]]]:
    """The body of an active-learning function task that asks ``policy`` for the next batch.

    Register it as the selection task, as a function task: with the active-learning plugin,
    ``learner.<kind>_task(as_executable=False)(as_task(policy, k=4))`` (see ``docs/policies.md``).
    The task finds its *selection request* in the results it receives (the last dict with
    a ``"candidates"`` key, or the path of a ``.json``/``.npz`` file holding one); a
    request may carry ``scores``, ``predictions``, ``pending``, ``k`` and the labels that
    arrived since the previous selection (``observed_points``, ``observed_values``, given to
    ``policy.observe``). TaskConfig kwargs ``k``, ``seed``, ``source`` (a request file) and
    ``output`` override the defaults. The result is a dict::

        {"selected": [indices], "selected_points": [points], "policy": name, "k": k}

    (``output``: also written there as JSON, for an executable simulation task to read).
    The policy object keeps its state across iterations: give each learner its own.
    """
    name = str(getattr(policy, "name", type(policy).__name__))

    async def select_next(*upstream: Any, **kwargs: Any) -> dict[str, Any]:
        unknown = sorted(set(kwargs) - {"k", "seed", "source", "output"})
        if unknown:
            raise PolicyError(f"policy task {name!r}: unknown option(s) {unknown}; valid: k, seed, source, output")
        request = _find_request(upstream, kwargs.get("source"))
        extra = sorted(set(request) - set(_REQUEST_KEYS))
        if extra:
            logger.debug("policy task %r ignores request keys %s", name, extra)
        if request.get("observed_points") is not None and len(request["observed_points"]):
            policy.observe(request["observed_points"], request.get("observed_values", []))
        size = kwargs.get("k", request.get("k", k))
        if size is None:
            raise PolicyError(f"policy task {name!r}: how many to select? pass as_task(policy, k=...) or kwargs k")
        candidates = request["candidates"]
        pending = request.get("pending")
        picked = policy.select(
            candidates,
            k=int(size),
            scores=request.get("scores"),
            predictions=request.get("predictions"),
            pending=() if pending is None else pending,
            rng=kwargs.get("seed"),
        )
        rows = _rows(candidates)
        result = {"selected": picked, "selected_points": [_plain(rows[i]) for i in picked], "policy": name,
                  "k": int(size)}
        target = kwargs.get("output", output)
        if target:
            with open(target, "w", encoding="utf-8") as handle:
                json.dump(result, handle)
        logger.debug("policy task %r selected %s", name, picked)
        return result

    select_next.__name__ = select_next.__qualname__ = f"select_with_{name.replace('-', '_')}"
    select_next.__doc__ = f"Select the next batch with policy {name!r}."
    return select_next
