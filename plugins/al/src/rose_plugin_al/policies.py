"""The built-in query policies of rose-plugin-al, on the scores of :mod:`rose_plugin_al.scores`.

Get one by name with ``rose.policy(name, **options)``; each implements
:class:`rose.policies.Policy` (``select(candidates, *, k, scores, predictions, pending, rng)``).
Every policy excludes pending points; the table says what else it does with them.

==========================  ===========================================  =====  =======================
name                        input                                        batch  pending points
==========================  ===========================================  =====  =======================
``random``                  nothing                                      no     excluded
``max-variance``            ``predictions[n_models, n]`` or ``scores``   no     excluded
``margin``                  ``predictions`` = class probabilities        no     excluded
``entropy``                 ``predictions`` = class probabilities        no     excluded
``expected-improvement``    ``predictions={"mean": .., "std": ..}``      yes    kriging believer
``greedy-k-center``         candidate coordinates (``scores`` optional)  yes    count as labelled
``batch-diverse-top-k``     ``scores`` or ``predictions[n_models, n]``   yes    count as labelled
==========================  ===========================================  =====  =======================

*Kriging believer* (expected improvement): a pending point is believed to return the
model's own prediction, which leaves a Gaussian-process mean unchanged and shrinks the
standard deviation near it, ``std * sqrt(1 - exp(-d**2 / length_scale**2))`` with ``d``
the distance to the nearest pending or already-picked point; the batch is picked one
point at a time the same way. *Count as labelled* (the diversity policies): pending
points seed the coverage, so a new batch keeps away from them as from labelled points.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from rose.policies import PolicyBase, PolicyError
from rose_plugin_al import scores as score_of
from rose_plugin_al import strategies

__all__ = [
    "BatchDiverseTopK",
    "Entropy",
    "ExpectedImprovement",
    "GreedyKCenter",
    "Margin",
    "MaxVariance",
    "RandomPolicy",
]


class _NumpyPolicy(PolicyBase):
    """numpy random generators and shared input handling."""

    def make_rng(self, seed: Any) -> np.random.Generator:
        """A numpy Generator (an int seed gives a reproducible one)."""
        return np.random.default_rng(seed)

    def _features(self, points: Any) -> np.ndarray:
        x = np.asarray(points, dtype=float)
        if x.ndim == 1:
            x = x[:, None]
        if x.ndim != 2:
            raise PolicyError(f"policy {self.name!r}: candidates must be numbers or rows of numbers, got shape {x.shape}")
        return x

    def _uncertainty(self, n: int, scores: Any, predictions: Any) -> np.ndarray:
        if scores is not None:
            values = np.asarray(scores, dtype=float).reshape(-1)
        elif predictions is not None:
            values = score_of.variance(predictions)
        else:
            raise PolicyError(
                f"policy {self.name!r} needs scores (one uncertainty per candidate) or "
                f"predictions[n_models, n_candidates] to compute the variance from"
            )
        if values.size != n:
            raise PolicyError(f"policy {self.name!r}: {values.size} scores/predictions for {n} candidates")
        if np.isnan(values).any():
            raise PolicyError(f"policy {self.name!r}: NaN scores at {np.flatnonzero(np.isnan(values)).tolist()}")
        return values

    @staticmethod
    def _best_of(values: np.ndarray, available: list[int], *, largest: bool = True) -> list[int]:
        pool = np.asarray(available, dtype=int)
        order = np.argsort(-values[pool] if largest else values[pool], kind="stable")
        return [int(i) for i in pool[order]]


class RandomPolicy(_NumpyPolicy):
    """Uniformly random distinct candidates (a baseline); reproducible with a seed."""

    name = "random"

    def rank(self, candidates: Sequence[Any], available: list[int], *, k: int, scores: Any, predictions: Any,
             pending: Sequence[Any], rng: Any) -> list[int]:
        """``k`` available candidates in random order."""
        return [int(i) for i in rng.choice(np.asarray(available), size=k, replace=False)]


class MaxVariance(_NumpyPolicy):
    """The candidates an ensemble (or MC samples) disagrees on most: ``predictions[n_models, n]``.

    ``scores`` (a given uncertainty per candidate) are used instead when passed.
    """

    name = "max-variance"

    def rank(self, candidates: Sequence[Any], available: list[int], *, k: int, scores: Any, predictions: Any,
             pending: Sequence[Any], rng: Any) -> list[int]:
        """Highest variance first."""
        return self._best_of(self._uncertainty(len(candidates), scores, predictions), available)


class _ClassPolicy(_NumpyPolicy):
    def _probabilities(self, n: int, predictions: Any) -> Any:
        if predictions is None:
            raise PolicyError(
                f"policy {self.name!r} needs predictions: class probabilities [n_candidates, n_classes] "
                f"(or [n_mc, n_candidates, n_classes])"
            )
        probs = np.asarray(predictions, dtype=float)
        rows = probs.shape[1] if probs.ndim == 3 else probs.shape[0]
        if rows != n:
            raise PolicyError(f"policy {self.name!r}: probabilities for {rows} candidates, got {n} candidates")
        return probs


class Margin(_ClassPolicy):
    """The smallest gap between the two most likely classes (``predictions`` = probabilities)."""

    name = "margin"

    def rank(self, candidates: Sequence[Any], available: list[int], *, k: int, scores: Any, predictions: Any,
             pending: Sequence[Any], rng: Any) -> list[int]:
        """Smallest margin first."""
        margins = score_of.margin(self._probabilities(len(candidates), predictions))
        return self._best_of(margins, available, largest=False)


class Entropy(_ClassPolicy):
    """The most uncertain class distribution (``predictions`` = probabilities)."""

    name = "entropy"

    def rank(self, candidates: Sequence[Any], available: list[int], *, k: int, scores: Any, predictions: Any,
             pending: Sequence[Any], rng: Any) -> list[int]:
        """Highest entropy first."""
        return self._best_of(score_of.entropy(self._probabilities(len(candidates), predictions)), available)


def _nearest_d2(x: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """Squared distance from each row of ``x`` to the nearest anchor (``inf`` without anchors)."""
    d2 = np.full(x.shape[0], np.inf)
    for anchor in anchors:
        d2 = np.minimum(d2, ((x - anchor) ** 2).sum(axis=1))
    return d2


def _believed_std(std: np.ndarray, d2: np.ndarray, length_scale: float) -> np.ndarray:
    """``std`` shrunk near the anchors (``d2``: squared distance to the nearest) as if their predictions were observed."""
    return np.asarray(std * np.sqrt(np.clip(1.0 - np.exp(-d2 / length_scale**2), 0.0, 1.0)))


class ExpectedImprovement(_NumpyPolicy):
    """Expected improvement of a Gaussian prediction, batch- and pending-aware (kriging believer).

    ``predictions={"mean": [...], "std": [...]}`` (or a pair ``(mean, std)``). The incumbent
    is ``best`` if given, else the best value passed to :meth:`observe`, else the best
    ``predictions["best"]``. ``maximize`` flips the direction; ``xi`` asks for a margin of
    improvement; ``length_scale`` (default: a tenth of the candidates' bounding-box
    diagonal; pass your model's) sets how far a pending or picked point lowers the
    uncertainty around it.
    """

    name = "expected-improvement"
    batch_aware = True
    pending_aware = True

    def __init__(self, *, best: float | None = None, maximize: bool = False, xi: float = 0.0,
                 length_scale: float | None = None, seed: int | None = None) -> None:
        super().__init__(seed=seed)
        if length_scale is not None and not length_scale > 0:
            raise PolicyError(f"policy {self.name!r}: length_scale must be > 0, got {length_scale!r}")
        self.best, self.maximize, self.xi, self.length_scale = best, maximize, xi, length_scale

    def _incumbent(self, predictions: Any) -> float:
        if self.best is not None:
            return float(self.best)
        if self.observed_values:
            return max(self.observed_values) if self.maximize else min(self.observed_values)
        if isinstance(predictions, Mapping) and predictions.get("best") is not None:
            return float(predictions["best"])
        raise PolicyError(
            f"policy {self.name!r} needs the best value so far: rose.policy('expected-improvement', best=...), "
            f"observe(points, values), or predictions['best']"
        )

    def rank(self, candidates: Sequence[Any], available: list[int], *, k: int, scores: Any, predictions: Any,
             pending: Sequence[Any], rng: Any) -> list[int]:
        """Pick one point at a time, believing the pending and picked points' predictions."""
        if isinstance(predictions, Mapping):
            mean, std = predictions.get("mean"), predictions.get("std")
        elif isinstance(predictions, (tuple, list)) and len(predictions) == 2:
            mean, std = predictions
        else:
            mean = std = None
        if mean is None or std is None:
            raise PolicyError(f"policy {self.name!r} needs predictions={{'mean': [...], 'std': [...]}} per candidate")
        mu, sigma = np.asarray(mean, dtype=float).reshape(-1), np.asarray(std, dtype=float).reshape(-1)
        if mu.size != len(candidates) or sigma.size != len(candidates):
            raise PolicyError(f"policy {self.name!r}: mean/std of sizes {mu.size}/{sigma.size} for {len(candidates)} candidates")
        best = self._incumbent(predictions)
        x = self._features(candidates)
        scale = self.length_scale
        if scale is None:
            scale = max(float(np.linalg.norm(x.max(axis=0) - x.min(axis=0))) / 10.0, 1e-12)
        pool = np.asarray(available, dtype=int)
        d2 = _nearest_d2(x[pool], self._features(pending) if len(pending) else np.empty((0, x.shape[1])))
        chosen: list[int] = []
        for _ in range(k):
            ei = strategies.expected_improvement(mu[pool], _believed_std(sigma[pool], d2, scale), best,
                                                 xi=self.xi, maximize=self.maximize)
            ei[np.isin(pool, chosen)] = -np.inf
            pick = int(pool[int(np.argmax(ei))])
            chosen.append(pick)
            d2 = np.minimum(d2, ((x[pool] - x[pick]) ** 2).sum(axis=1))
        return chosen


class _DiversePolicy(_NumpyPolicy):
    batch_aware = True
    pending_aware = True

    def __init__(self, *, use_observed: bool = True, seed: int | None = None) -> None:
        super().__init__(seed=seed)
        self.use_observed = use_observed

    def _k_center(self, candidates: Sequence[Any], pool: list[int], k: int, pending: Sequence[Any], first: int) -> list[int]:
        """Greedy k-center over ``pool``; pending (and observed) points count as covered."""
        x = self._features(candidates)
        extra = list(pending) + (list(self.observed_points) if self.use_observed else [])
        anchors = self._features(extra) if extra else np.empty((0, x.shape[1]))
        if anchors.shape[1] != x.shape[1]:
            raise PolicyError(f"policy {self.name!r}: pending/observed points have {anchors.shape[1]} coordinates, "
                              f"candidates {x.shape[1]}")
        features = np.vstack([x, anchors])
        selected = np.arange(x.shape[0], features.shape[0]) if anchors.size else None
        picked = strategies.greedy_k_center(features, k, candidates=pool, selected=selected, first=first)
        return [int(i) for i in picked]


class GreedyKCenter(_DiversePolicy):
    """A batch spread over the candidate space: each pick is the farthest from everything covered.

    Covered = labelled points given to :meth:`observe` (unless ``use_observed=False``), pending
    points and earlier picks. With nothing covered yet, the first pick is the highest
    ``scores`` entry if scores are given, else a random candidate.
    """

    name = "greedy-k-center"

    def rank(self, candidates: Sequence[Any], available: list[int], *, k: int, scores: Any, predictions: Any,
             pending: Sequence[Any], rng: Any) -> list[int]:
        """Farthest-first traversal of the available candidates."""
        if scores is not None:
            first = self._best_of(np.asarray(scores, dtype=float).reshape(-1), available)[0]
        else:
            first = int(rng.choice(np.asarray(available)))
        return self._k_center(candidates, available, k, pending, first)


class BatchDiverseTopK(_DiversePolicy):
    """A diverse batch of uncertain candidates: greedy k-center over the ``pool_factor * k`` most uncertain.

    Uncertainty = ``scores``, or the variance of ``predictions[n_models, n]``. Pending and
    labelled points count as covered, so the batch keeps away from them.
    """

    name = "batch-diverse-top-k"

    def __init__(self, *, pool_factor: int = 4, use_observed: bool = True, seed: int | None = None) -> None:
        super().__init__(use_observed=use_observed, seed=seed)
        if isinstance(pool_factor, bool) or not isinstance(pool_factor, int) or pool_factor < 1:
            raise PolicyError(f"policy {self.name!r}: pool_factor must be a whole number >= 1, got {pool_factor!r}")
        self.pool_factor = pool_factor

    def rank(self, candidates: Sequence[Any], available: list[int], *, k: int, scores: Any, predictions: Any,
             pending: Sequence[Any], rng: Any) -> list[int]:
        """The most uncertain first, then the farthest from everything covered."""
        ranked = self._best_of(self._uncertainty(len(candidates), scores, predictions), available)
        pool = ranked[: max(k, self.pool_factor * k)]
        return self._k_center(candidates, pool, k, pending, pool[0])
