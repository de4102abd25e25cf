"""Uncertainty scores from Monte-Carlo (or ensemble) predictions: ``UQScorer``.

Shapes: classification predictions are class probabilities ``[n_mc, n_instances,
n_classes]``; regression predictions are values ``[n_mc, n_instances]``. Every score is
computed per instance. For every score except ``margin`` a *larger* value means *more*
uncertain; for ``margin`` (top-1 minus top-2 class probability) a *smaller* value means
more uncertain, and :meth:`UQScorer.select_top_uncertain` takes that into account.

Custom scores are added with :func:`register_uq`::

    @register_uq("max_std", task_types=("regression",))
    def max_std(self, mc_preds):
        return mc_preds.std(axis=0)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from rose_plugin_al import scores

__all__ = [
    "EPS",
    "UQ_REGISTRY",
    "UQScorer",
    "least_confidence",
    "register_uq",
]

#: the floor of logarithms and variances (:data:`rose_plugin_al.scores.EPS`, the one epsilon rule)
EPS = scores.EPS
TASK_TYPES = ("classification", "regression")

UQ_REGISTRY: dict[str, Callable[..., Any]] = {}
"""Score name -> function ``(scorer, mc_preds[, y_true]) -> per-instance scores``."""


def register_uq(
    name: str,
    *,
    task_types: Sequence[str] = TASK_TYPES,
    most_uncertain: str = "high",
    needs_y_true: bool = False,
    replace: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register an uncertainty score under ``name`` (a decorator).

    The function receives the scorer and the validated predictions (and ``y_true`` when
    ``needs_y_true``) and returns one score per instance. ``most_uncertain`` is ``"high"``
    when larger scores mean more uncertain, ``"low"`` otherwise (like ``margin``).
    Registering an existing name raises ValueError unless ``replace=True``.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"register_uq: name must be a non-empty string, got {name!r}")
    if most_uncertain not in ("high", "low"):
        raise ValueError(f"register_uq({name!r}): most_uncertain must be 'high' or 'low', got {most_uncertain!r}")
    unknown = [t for t in task_types if t not in TASK_TYPES]
    if unknown or not task_types:
        raise ValueError(f"register_uq({name!r}): task_types must be a subset of {TASK_TYPES}, got {tuple(task_types)}")

    def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
        if name in UQ_REGISTRY and UQ_REGISTRY[name] is not fn and not replace:
            raise ValueError(
                f"an uncertainty score named {name!r} is already registered ({UQ_REGISTRY[name]!r}); "
                f"pick another name or pass register_uq({name!r}, replace=True)"
            )
        fn.uq_task_types = tuple(task_types)  # type: ignore[attr-defined]
        fn.uq_most_uncertain = most_uncertain  # type: ignore[attr-defined]
        fn.uq_needs_y_true = needs_y_true  # type: ignore[attr-defined]
        UQ_REGISTRY[name] = fn
        return fn

    return decorator


class UQScorer:
    """Uncertainty scores for ``task_type`` ``"classification"`` or ``"regression"``."""

    def __init__(self, task_type: str) -> None:
        if task_type not in TASK_TYPES:
            raise ValueError(f"task_type must be 'classification' or 'regression', got {task_type!r}")
        self.task_type = task_type

    # -- input checks -------------------------------------------------------------------
    def _validate_inputs(self, mc_preds: Any, y_true: Any = None) -> tuple[np.ndarray, np.ndarray | None]:
        try:
            preds = np.asarray(mc_preds, dtype=float)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"cannot convert mc_preds ({type(mc_preds).__name__}) to a numeric array: {exc}; "
                f"every Monte-Carlo sample must have the same shape"
            ) from None
        if self.task_type == "classification":
            if preds.ndim == 4 and 1 in preds.shape:
                preds = np.squeeze(preds, axis=preds.shape.index(1))
            if preds.ndim != 3:
                raise ValueError(
                    f"classification mc_preds must have shape [n_mc_samples, n_instances, n_classes], "
                    f"got shape {preds.shape}"
                )
            if preds.shape[2] < 2:
                raise ValueError(f"classification mc_preds need at least 2 classes, got shape {preds.shape}")
        else:
            if preds.ndim == 3 and preds.shape[2] == 1:
                preds = preds[:, :, 0]
            if preds.ndim != 2:
                raise ValueError(
                    f"regression mc_preds must have shape [n_mc_samples, n_instances], got shape {preds.shape}"
                )
        if preds.shape[0] < 1 or preds.shape[1] < 1:
            raise ValueError(f"mc_preds is empty (shape {preds.shape})")
        labels = None
        if y_true is not None:
            labels = np.asarray(y_true)
            n = preds.shape[1]
            if self.task_type == "classification":
                if labels.ndim == 2:  # one-hot labels
                    labels = labels.argmax(axis=1)
                if labels.ndim != 1:
                    raise ValueError(f"y_true must be class indices [n_instances] or one-hot, got shape {labels.shape}")
                if not np.all(np.equal(np.mod(labels, 1), 0)) or labels.min() < 0 or labels.max() >= preds.shape[2]:
                    raise ValueError(f"y_true must hold class indices in [0, {preds.shape[2] - 1}], got {labels!r}")
                labels = labels.astype(int)
            else:
                labels = labels.astype(float).reshape(-1) if labels.size == n else labels
                if labels.ndim != 1:
                    raise ValueError(f"regression y_true must have shape [n_instances], got shape {labels.shape}")
            if labels.shape[0] != n:
                raise ValueError(f"y_true has {labels.shape[0]} entries but mc_preds has {n} instances")
        return preds, labels

    def _require(self, metric: str, task_type: str) -> None:
        if self.task_type != task_type:
            raise ValueError(f"{metric} is a {task_type} score; this scorer is for {self.task_type}")

    # -- built-in scores ------------------------------------------------------------------
    def predictive_entropy(self, mc_preds: Any) -> np.ndarray:
        """Entropy of the mean class distribution: ``-sum_c p log p`` (nats)."""
        self._require("predictive_entropy", "classification")
        preds, _ = self._validate_inputs(mc_preds)
        return scores.entropy(preds)

    def mutual_information(self, mc_preds: Any) -> np.ndarray:
        """Predictive entropy minus the mean entropy of the samples (BALD, epistemic part)."""
        self._require("mutual_information", "classification")
        preds, _ = self._validate_inputs(mc_preds)
        return scores.mutual_information(preds)

    def variation_ratio(self, mc_preds: Any) -> np.ndarray:
        """``1 - (samples voting for the modal class) / n_mc``."""
        self._require("variation_ratio", "classification")
        preds, _ = self._validate_inputs(mc_preds)
        return scores.variation_ratio(preds)

    def margin(self, mc_preds: Any) -> np.ndarray:
        """Top-1 minus top-2 of the mean class distribution (small = uncertain)."""
        self._require("margin", "classification")
        preds, _ = self._validate_inputs(mc_preds)
        return scores.margin(preds)

    def predictive_variance(self, mc_preds: Any) -> np.ndarray:
        """Variance of the Monte-Carlo predictions (population variance, ``ddof=0``)."""
        self._require("predictive_variance", "regression")
        preds, _ = self._validate_inputs(mc_preds)
        return scores.variance(preds)

    def predictive_interval_width(self, mc_preds: Any, quantile: float = 0.95) -> np.ndarray:
        """Width of the central ``quantile`` interval of the predictions (linear interpolation)."""
        self._require("predictive_interval_width", "regression")
        preds, _ = self._validate_inputs(mc_preds)
        return scores.interval_width(preds, quantile)

    def negative_log_likelihood(self, mc_preds: Any, y_true: Any) -> np.ndarray:
        """NLL of the true values: ``-log p(y)`` (classification) or Gaussian NLL (regression)."""
        if y_true is None:
            raise ValueError("negative_log_likelihood needs y_true")
        preds, labels = self._validate_inputs(mc_preds, y_true)
        assert labels is not None
        if self.task_type == "classification":
            return scores.class_nll(preds, labels)
        return scores.gaussian_nll(preds, labels)

    def least_confidence(self, mc_preds: Any) -> np.ndarray:
        """``1 - max_c p`` of the mean class distribution (large = uncertain)."""
        self._require("least_confidence", "classification")
        preds, _ = self._validate_inputs(mc_preds)
        return scores.least_confidence(preds)

    # -- using the registry -----------------------------------------------------------------
    def available(self) -> list[str]:
        """The registered scores that apply to this scorer's task type."""
        return [name for name, fn in UQ_REGISTRY.items() if self.task_type in getattr(fn, "uq_task_types", TASK_TYPES)]

    def score(self, metric: str, mc_preds: Any, y_true: Any = None) -> np.ndarray:
        """One registered score per instance."""
        fn = self._lookup(metric)
        if getattr(fn, "uq_needs_y_true", False):
            return np.asarray(fn(self, mc_preds, y_true), dtype=float)
        return np.asarray(fn(self, mc_preds), dtype=float)

    def compute_uncertainty(self, mc_preds: Any, y_true: Any = None) -> dict[str, np.ndarray]:
        """Every registered score for this task type (those needing ``y_true`` only with it)."""
        self._validate_inputs(mc_preds, y_true)
        results: dict[str, np.ndarray] = {}
        for name in self.available():
            fn = UQ_REGISTRY[name]
            if getattr(fn, "uq_needs_y_true", False) and y_true is None:
                continue
            results[name] = self.score(name, mc_preds, y_true)
        return results

    def select_top_uncertain(
        self, mc_preds: Any, k: int = 10, metric: str | None = None, y_true: Any = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` most uncertain instances by ``metric``: ``(indices, scores)``.

        The default metric is ``predictive_entropy`` (classification) or
        ``predictive_variance`` (regression). Ties keep the instances' order.
        """
        if metric is None:
            metric = "predictive_entropy" if self.task_type == "classification" else "predictive_variance"
        fn = self._lookup(metric)
        values = self.score(metric, mc_preds, y_true)
        chosen = scores.top_k(values, k, most_uncertain=fn.uq_most_uncertain)  # type: ignore[attr-defined]
        return chosen, values[chosen]

    def _lookup(self, metric: str) -> Callable[..., Any]:
        fn = UQ_REGISTRY.get(metric)
        if fn is None:
            raise ValueError(f"Metric {metric!r} is not registered. Available: {', '.join(sorted(UQ_REGISTRY))}")
        if self.task_type not in getattr(fn, "uq_task_types", TASK_TYPES):
            raise ValueError(
                f"Metric {metric!r} does not apply to {self.task_type}; available for {self.task_type}: "
                f"{', '.join(self.available())}"
            )
        return fn


# -- the built-in scores in the registry ------------------------------------------------------
_CLS = ("classification",)
_REG = ("regression",)
register_uq("predictive_entropy", task_types=_CLS)(UQScorer.predictive_entropy)
register_uq("mutual_information", task_types=_CLS)(UQScorer.mutual_information)
register_uq("variation_ratio", task_types=_CLS)(UQScorer.variation_ratio)
register_uq("margin", task_types=_CLS, most_uncertain="low")(UQScorer.margin)
register_uq("least_confidence", task_types=_CLS)(UQScorer.least_confidence)
register_uq("predictive_variance", task_types=_REG)(UQScorer.predictive_variance)
register_uq("predictive_interval_width", task_types=_REG)(UQScorer.predictive_interval_width)
register_uq("negative_log_likelihood", needs_y_true=True)(UQScorer.negative_log_likelihood)


def least_confidence(mc_preds: Any) -> float:
    """Mean least-confidence score of classification predictions (the ``least_confidence`` metric)."""
    return float(UQScorer("classification").least_confidence(mc_preds).mean())
