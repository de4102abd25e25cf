"""Uncertainty and diversity scores: the one vocabulary of rose-plugin-al.

:mod:`rose_plugin_al.strategies` (``select_*`` helpers for your own tasks), the query policies
of :mod:`rose_plugin_al.policies` (``rose.policy(name)``) and :class:`rose_plugin_al.uq_scorer.
UQScorer` all compute their scores here, so a score has one definition and one direction.

Shapes: class probabilities are ``[n, n_classes]``, or ``[n_mc, n, n_classes]`` for Monte-Carlo
samples (averaged to the predictive distribution where a score needs one); values are
``[n_models_or_samples, n]``. Every function returns one score per candidate.

The epsilon rule, the same everywhere: a probability of exactly 0 contributes 0 to an entropy
(``0 log 0 = 0``, no epsilon: the entropy of a certain prediction is exactly 0), and a logarithm
or division that could meet 0 is floored at :data:`EPS` (the negative log-likelihood of a class
given probability 0, the Gaussian likelihood of a zero variance).

:data:`MOST_UNCERTAIN` says which end of each score is uncertain: ``"high"`` for every score
except ``margin``, where a small gap between the two most likely classes is uncertain.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = [
    "EPS",
    "MOST_UNCERTAIN",
    "check_k",
    "class_nll",
    "entropy",
    "gaussian_nll",
    "interval_width",
    "least_confidence",
    "margin",
    "mean_probabilities",
    "mutual_information",
    "top_k",
    "variance",
    "variation_ratio",
]

#: the floor of every logarithm's and divisor's argument that could be 0 (see the module docstring)
EPS = 1e-12

#: which end of each score is uncertain: ``"high"`` (larger = more uncertain) or ``"low"``
MOST_UNCERTAIN: dict[str, str] = {
    "entropy": "high",
    "mutual_information": "high",
    "variation_ratio": "high",
    "least_confidence": "high",
    "margin": "low",
    "variance": "high",
    "interval_width": "high",
}


def mean_probabilities(probs: Any) -> np.ndarray:
    """Class probabilities ``[n, n_classes >= 2]``; Monte-Carlo samples ``[n_mc, n, c]`` are averaged."""
    p = np.asarray(probs, dtype=float)
    if p.ndim == 3:
        p = p.mean(axis=0)
    if p.ndim != 2 or p.shape[1] < 2:
        raise ValueError(f"class probabilities must have shape [n_candidates, n_classes >= 2], got {p.shape}")
    return p


def _plogp(p: np.ndarray) -> np.ndarray:
    """``p * log(p)`` with ``0 log 0 = 0`` (the epsilon rule)."""
    safe = np.where(p > 0, p, 1.0)
    return np.asarray(np.where(p > 0, p * np.log(safe), 0.0))


def entropy(probs: Any) -> np.ndarray:
    """Entropy (nats) of each candidate's (mean) class distribution, ``-sum_c p log p``."""
    return np.asarray(-_plogp(mean_probabilities(probs)).sum(axis=1))


def margin(probs: Any) -> np.ndarray:
    """Top-1 minus top-2 (mean) class probability per candidate (small = uncertain)."""
    ranked = np.sort(mean_probabilities(probs), axis=1)
    return np.asarray(ranked[:, -1] - ranked[:, -2])


def least_confidence(probs: Any) -> np.ndarray:
    """``1 - max_c p`` of each candidate's (mean) class distribution (large = uncertain)."""
    return np.asarray(1.0 - mean_probabilities(probs).max(axis=1))


def _samples(mc_probs: Any) -> np.ndarray:
    p = np.asarray(mc_probs, dtype=float)
    if p.ndim != 3 or p.shape[2] < 2:
        raise ValueError(f"Monte-Carlo class probabilities must have shape [n_mc, n, n_classes >= 2], got {p.shape}")
    return p


def mutual_information(mc_probs: Any) -> np.ndarray:
    """Predictive entropy minus the samples' mean entropy (BALD: the epistemic part)."""
    p = _samples(mc_probs)
    return np.asarray(entropy(p) + _plogp(p).sum(axis=2).mean(axis=0))


def variation_ratio(mc_probs: Any) -> np.ndarray:
    """``1 - (samples voting for the modal class) / n_mc``."""
    p = _samples(mc_probs)
    votes = p.argmax(axis=2)  # [n_mc, n]
    counts = np.stack([(votes == c).sum(axis=0) for c in range(p.shape[2])], axis=1)  # [n, c]
    return np.asarray(1.0 - counts.max(axis=1) / p.shape[0])


def _values(predictions: Any) -> np.ndarray:
    preds = np.asarray(predictions, dtype=float)
    if preds.ndim == 3 and preds.shape[2] == 1:
        preds = preds[:, :, 0]
    if preds.ndim != 2:
        raise ValueError(f"predictions must have shape [n_models_or_samples, n_candidates], got {preds.shape}")
    return preds


def variance(predictions: Any) -> np.ndarray:
    """Variance across models or Monte-Carlo samples (population variance, ``ddof=0``)."""
    return np.asarray(_values(predictions).var(axis=0))


def interval_width(predictions: Any, quantile: float = 0.95) -> np.ndarray:
    """Width of the central ``quantile`` interval of the predictions (linear interpolation)."""
    if not 0 < quantile < 1:
        raise ValueError(f"quantile must be between 0 and 1, got {quantile!r}")
    preds = _values(predictions)
    low, high = 50 * (1 - quantile), 50 * (1 + quantile)
    return np.asarray(np.percentile(preds, high, axis=0) - np.percentile(preds, low, axis=0))


def class_nll(probs: Any, labels: Any) -> np.ndarray:
    """``-log p(y)`` of each true class under the (mean) class distribution, floored at :data:`EPS`."""
    p = mean_probabilities(probs)
    chosen = p[np.arange(p.shape[0]), np.asarray(labels, dtype=int)]
    return np.asarray(-np.log(np.maximum(chosen, EPS)))


def gaussian_nll(predictions: Any, values: Any) -> np.ndarray:
    """Gaussian negative log-likelihood of the true values under the samples' mean and variance."""
    preds = _values(predictions)
    mu, var = preds.mean(axis=0), np.maximum(preds.var(axis=0), EPS)
    y = np.asarray(values, dtype=float).reshape(-1)
    return np.asarray(0.5 * np.log(2 * math.pi * var) + (y - mu) ** 2 / (2 * var))


def check_k(k: Any, n: int) -> int:
    """``k`` as a whole number >= 1, at most ``n`` (a clear error otherwise)."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a whole number >= 1, got {k!r}")
    return min(int(k), n)


def top_k(scores: Any, k: int, *, most_uncertain: str = "high") -> np.ndarray:
    """Indices of the ``k`` most uncertain scores (the largest, or the smallest with
    ``most_uncertain="low"``), most uncertain first; ties keep the candidates' order."""
    if most_uncertain not in ("high", "low"):
        raise ValueError(f"most_uncertain must be 'high' or 'low', got {most_uncertain!r}")
    values = np.asarray(scores, dtype=float).reshape(-1)
    if values.size == 0:
        raise ValueError("no candidates to select from (empty scores)")
    if np.isnan(values).any():
        raise ValueError(f"scores contain NaN at positions {np.flatnonzero(np.isnan(values)).tolist()}")
    k = check_k(k, values.size)
    order = np.argsort(-values if most_uncertain == "high" else values, kind="stable")
    return order[:k]
