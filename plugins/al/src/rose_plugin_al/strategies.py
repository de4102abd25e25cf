"""Ready-made sample-selection strategies for active-learning tasks (numpy only).

Use them inside your own ``active_learn`` task (a function task, or the script an
executable task runs). Every ``select_*`` function returns the indices of the chosen
candidates, best first; the ``*_scores`` functions return one score per candidate.

* :func:`select_random` - uniform random sample (a baseline).
* :func:`select_max_variance` / :func:`select_uncertainty` - highest disagreement of an
  ensemble or Monte-Carlo predictions / highest given uncertainty score.
* :func:`select_margin` - smallest gap between the two most likely classes.
* :func:`select_entropy` - highest entropy of the class distribution.
* :func:`select_expected_improvement` - Bayesian-optimisation style expected improvement.
* :func:`greedy_k_center` / :func:`select_diverse` - a diverse batch: greedy k-center over
  the most uncertain candidates, so one batch does not pick near-duplicates.

The scores themselves are defined once, in :mod:`rose_plugin_al.scores`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from rose_plugin_al import scores as _scores

__all__ = [
    "entropy_scores",
    "expected_improvement",
    "greedy_k_center",
    "margin_scores",
    "select_diverse",
    "select_entropy",
    "select_expected_improvement",
    "select_margin",
    "select_max_variance",
    "select_random",
    "select_uncertainty",
    "top_k",
    "variance_scores",
]

def top_k(scores: Any, k: int, *, largest: bool = True) -> np.ndarray:
    """Indices of the ``k`` largest (or smallest) scores, best first; ties keep input order."""
    return _scores.top_k(scores, k, most_uncertain="high" if largest else "low")


def select_random(n_candidates: int, k: int, *, seed: int | np.random.Generator | None = None) -> np.ndarray:
    """``k`` distinct candidate indices drawn uniformly (reproducible with ``seed``)."""
    if isinstance(n_candidates, bool) or not isinstance(n_candidates, (int, np.integer)) or n_candidates < 1:
        raise ValueError(f"n_candidates must be a whole number >= 1, got {n_candidates!r}")
    k = _scores.check_k(k, int(n_candidates))
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    return rng.choice(int(n_candidates), size=k, replace=False)


#: per-candidate variance across models or MC samples: ``predictions[n_models, n]``
variance_scores = _scores.variance


def select_max_variance(predictions: Any, k: int) -> np.ndarray:
    """The ``k`` candidates the models disagree on most (query by committee / MC dropout)."""
    return top_k(variance_scores(predictions), k)


def select_uncertainty(scores: Any, k: int, *, most_uncertain: str = "high") -> np.ndarray:
    """The ``k`` most uncertain candidates by a given score (``"low"`` for margin-like scores)."""
    return _scores.top_k(scores, k, most_uncertain=most_uncertain)


#: top-1 minus top-2 class probability per candidate (small = uncertain)
margin_scores = _scores.margin


def select_margin(probs: Any, k: int) -> np.ndarray:
    """The ``k`` candidates with the smallest margin between the two most likely classes."""
    return top_k(margin_scores(probs), k, largest=False)


#: entropy (nats) of each candidate's class distribution
entropy_scores = _scores.entropy


def select_entropy(probs: Any, k: int) -> np.ndarray:
    """The ``k`` candidates with the most uncertain class distribution."""
    return top_k(entropy_scores(probs), k)


_erf = np.vectorize(math.erf, otypes=[float])


def expected_improvement(
    mean: Any, std: Any, best: float, *, xi: float = 0.0, maximize: bool = False
) -> np.ndarray:
    """Expected improvement over ``best`` of a Gaussian prediction ``N(mean, std**2)``.

    For minimisation (the default) the improvement is ``best - y - xi``; with
    ``maximize=True`` it is ``y - best - xi``. A candidate with ``std == 0`` has
    ``max(improvement, 0)``.
    """
    mu = np.asarray(mean, dtype=float).reshape(-1)
    sigma = np.asarray(std, dtype=float).reshape(-1)
    if mu.shape != sigma.shape:
        raise ValueError(f"mean and std must have the same length, got {mu.shape} and {sigma.shape}")
    if (sigma < 0).any():
        raise ValueError("std must be >= 0")
    gain = (mu - best - xi) if maximize else (best - mu - xi)
    ei = np.maximum(gain, 0.0)
    positive = sigma > 0
    z = gain[positive] / sigma[positive]
    pdf = np.exp(-0.5 * z**2) / math.sqrt(2 * math.pi)
    cdf = 0.5 * (1.0 + _erf(z / math.sqrt(2)))
    ei[positive] = gain[positive] * cdf + sigma[positive] * pdf
    return np.asarray(ei)


def select_expected_improvement(
    mean: Any, std: Any, best: float, k: int, *, xi: float = 0.0, maximize: bool = False
) -> np.ndarray:
    """The ``k`` candidates with the highest expected improvement."""
    return top_k(expected_improvement(mean, std, best, xi=xi, maximize=maximize), k)


def greedy_k_center(
    features: Any,
    k: int,
    *,
    candidates: Any = None,
    selected: Any = None,
    first: int | None = None,
) -> np.ndarray:
    """Greedy k-center: repeatedly take the candidate farthest from everything chosen so far.

    ``features[n, d]`` describes every point; ``candidates`` (indices, default all)
    restricts the choice; ``selected`` are points already labeled (distances start from
    them). Without ``selected`` the first pick is ``first`` (default: the first
    candidate). Returns indices into ``features``, in the order they were picked.
    """
    x = np.asarray(features, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"features must have shape [n_points, n_features], got {x.shape}")
    pool = np.arange(x.shape[0]) if candidates is None else np.asarray(candidates, dtype=int).reshape(-1)
    if pool.size == 0:
        raise ValueError("no candidates to select from")
    k = _scores.check_k(k, pool.size)
    chosen: list[int] = []
    dist = np.full(pool.size, np.inf)
    anchors = np.asarray(selected if selected is not None else [], dtype=int).reshape(-1)
    for anchor in anchors:
        dist = np.minimum(dist, np.linalg.norm(x[pool] - x[anchor], axis=1))
    if anchors.size == 0:
        start = 0
        if first is not None:
            matches = np.flatnonzero(pool == first)
            if matches.size == 0:
                raise ValueError(f"first={first!r} is not one of the candidates")
            start = int(matches[0])
        chosen.append(int(pool[start]))
        dist = np.minimum(dist, np.linalg.norm(x[pool] - x[pool[start]], axis=1))
    while len(chosen) < k:
        masked = dist.copy()
        masked[np.isin(pool, chosen)] = -np.inf
        pick = int(np.argmax(masked))
        chosen.append(int(pool[pick]))
        dist = np.minimum(dist, np.linalg.norm(x[pool] - x[pool[pick]], axis=1))
    return np.asarray(chosen, dtype=int)


def select_diverse(
    scores: Any,
    features: Any,
    k: int,
    *,
    pool_size: int | None = None,
    selected: Any = None,
    most_uncertain: str = "high",
) -> np.ndarray:
    """A diverse batch of uncertain candidates.

    Take the ``pool_size`` most uncertain candidates (default ``4 * k``), then pick ``k``
    of them with greedy k-center, starting from the most uncertain one (or from the
    already ``selected`` points). Returns indices into ``scores``/``features``.
    """
    values = np.asarray(scores, dtype=float).reshape(-1)
    x = np.asarray(features, dtype=float)
    if x.shape[0] != values.size:
        raise ValueError(f"scores has {values.size} candidates but features has {x.shape[0]} rows")
    k = _scores.check_k(k, values.size)
    size = 4 * k if pool_size is None else int(pool_size)
    if size < k:
        raise ValueError(f"pool_size ({size}) must be >= k ({k})")
    pool = select_uncertainty(values, size, most_uncertain=most_uncertain)
    return greedy_k_center(x, k, candidates=pool, selected=selected, first=int(pool[0]))
