"""Metric names, operators and the metric registry.

Every constant users import from ``rose.metrics`` is here. A metric's direction (the
operator that stops a campaign) comes from the registry, which plugins extend through the
``rose_metrics`` hook. A custom metric name needs an explicit operator.
"""

from __future__ import annotations

import math
from enum import Enum
from typing import Any

__all__ = [
    "EQUAL_TO_THRESHOLD",
    "LearningMetrics",
    "METRIC_CONSTANTS",
    "GREATER_THAN_OR_EQUAL_TO_THRESHOLD",
    "GREATER_THAN_THRESHOLD",
    "LESS_THAN_OR_EQUAL_TO_THRESHOLD",
    "LESS_THAN_THRESHOLD",
    "OPERATORS",
    "compare",
    "direction_of",
    "get_operator",
    "check_metric_value",
    "is_supported_metric",
]

# -- operators -------------------------------------------------------------------------
LESS_THAN_THRESHOLD = "<"
GREATER_THAN_THRESHOLD = ">"
EQUAL_TO_THRESHOLD = "="
LESS_THAN_OR_EQUAL_TO_THRESHOLD = "<="
GREATER_THAN_OR_EQUAL_TO_THRESHOLD = ">="

OPERATORS: tuple[str, ...] = ("<", ">", "=", "==", "<=", ">=")

# -- uncertainty metrics ---------------------------------------------------------------
CUSTOM_UQ = "custom_uq"
PREDICTIVE_ENTROPY = "predictive_entropy"
MUTUAL_INFORMATION = "mutual_information"
VARIATION_RATIO = "variation_ratio"
MARGIN = "margin"
PREDICTIVE_VARIANCE = "predictive_variance"
PREDICTIVE_INTERVAL_WIDTH = "predictive_interval_width"
NEGATIVE_LOG_LIKELIHOOD = "negative_log_likelihood"

# -- learning metrics ------------------------------------------------------------------
MODEL_ACCURACY = "model_accuracy"
QUERY_EFFICIENCY = "query_efficiency"
LABELING_COST = "labeling_cost"
DIVERSITY_OF_SELECTED_SAMPLES = "diversity_of_selected_samples"
UNCERTAINTY = "uncertainty"
QUERY_REDUCTION = "query_reduction"
AREA_UNDER_LEARNING_CURVE_AUC = "area_under_learning_curve_auc"
EXPECTED_MODEL_IMPROVEMENT_EMI = "expected_model_improvement_emi"
SAMPLING_BIAS = "sampling_bias"
PREDICTION_CONFIDENCE = "prediction_confidence"
CLASS_DISTRIBUTION_SHIFT = "class_distribution_shift"
CUMULATIVE_ERROR_REDUCTION = "cumulative_error_reduction"
QUERY_SELECTION_STRATEGY_PERFORMANCE = "query_selection_strategy_performance"
NUMBER_OF_ITERATIONS = "number_of_iterations"
F1_SCORE = "f1_score"
PRECISION = "precision"
RECALL = "recall"
INFORMATION_GAIN = "information_gain"
TIME_TO_CONVERGENCE = "time_to_convergence"
MODEL_COMPLEXITY = "model_complexity"
DATA_LABELING_REDUNDANCY = "data_labeling_redundancy"
GENERALIZATION_ERROR = "generalization_error"
LEARNING_RATE = "learning_rate"
TRAINING_TIME = "training_time"
CONFIDENCE_INTERVAL_WIDTH = "confidence_interval_width"
OVERFITTING = "overfitting"
ACTIVE_LEARNING_EFFICIENCY = "active_learning_efficiency"
EXPLORATION_VS_EXPLOITATION = "exploration_vs_exploitation"
MEAN_SQUARED_ERROR_MSE = "mean_squared_error_mse"
ROOT_MEAN_SQUARED_ERROR_RMSE = "root_mean_squared_error_rmse"
MEAN_ABSOLUTE_ERROR_MAE = "mean_absolute_error_mae"
R2_SCORE = "r2_score"
RMSE = ROOT_MEAN_SQUARED_ERROR_RMSE
MAE = MEAN_ABSOLUTE_ERROR_MAE
R2 = R2_SCORE

#: (name, operator, summary) of every built-in metric; registered by ``rose.builtin``.
BUILTIN_METRICS: tuple[tuple[str, str, str], ...] = (
    (CUSTOM_UQ, "<", "user-defined uncertainty score"),
    (PREDICTIVE_ENTROPY, "<", "entropy of the mean predicted class distribution"),
    (MUTUAL_INFORMATION, "<", "epistemic part of the predictive entropy (BALD)"),
    (VARIATION_RATIO, "<", "1 - share of the modal class across MC samples"),
    (MARGIN, ">", "top-1 minus top-2 class probability (small = uncertain)"),
    (PREDICTIVE_VARIANCE, "<", "variance of MC regression predictions"),
    (PREDICTIVE_INTERVAL_WIDTH, "<", "width of the central 95% MC prediction interval"),
    (NEGATIVE_LOG_LIKELIHOOD, "<", "negative log-likelihood of the true labels"),
    (MODEL_ACCURACY, ">=", "share of correct predictions"),
    (QUERY_EFFICIENCY, ">", "improvement per labeled sample"),
    (LABELING_COST, "<", "cost of the labels acquired"),
    (DIVERSITY_OF_SELECTED_SAMPLES, ">", "spread of the selected batch"),
    (UNCERTAINTY, "<", "model uncertainty"),
    (QUERY_REDUCTION, ">", "labels saved against a baseline"),
    (AREA_UNDER_LEARNING_CURVE_AUC, ">", "area under the learning curve"),
    (EXPECTED_MODEL_IMPROVEMENT_EMI, ">", "expected model improvement"),
    (SAMPLING_BIAS, "<", "bias of the labeled sample"),
    (PREDICTION_CONFIDENCE, ">", "confidence of predictions"),
    (CLASS_DISTRIBUTION_SHIFT, "<", "shift of the class distribution"),
    (CUMULATIVE_ERROR_REDUCTION, ">", "error reduction so far"),
    (QUERY_SELECTION_STRATEGY_PERFORMANCE, ">", "performance of the query strategy"),
    (NUMBER_OF_ITERATIONS, "<", "iterations used"),
    (F1_SCORE, ">", "F1 score"),
    (PRECISION, ">", "precision"),
    (RECALL, ">", "recall"),
    (INFORMATION_GAIN, ">", "information gain"),
    (TIME_TO_CONVERGENCE, "<", "time to convergence"),
    (MODEL_COMPLEXITY, "<", "model complexity"),
    (DATA_LABELING_REDUNDANCY, "<", "redundancy of labeled data"),
    (GENERALIZATION_ERROR, "<", "generalization error"),
    (LEARNING_RATE, "<", "learning rate"),
    (TRAINING_TIME, "<", "training time"),
    (CONFIDENCE_INTERVAL_WIDTH, "<", "width of confidence intervals"),
    (OVERFITTING, "<", "overfitting gap"),
    (ACTIVE_LEARNING_EFFICIENCY, ">", "active-learning efficiency"),
    (EXPLORATION_VS_EXPLOITATION, ">", "exploration/exploitation balance"),
    (MEAN_SQUARED_ERROR_MSE, "<", "mean squared error"),
    (ROOT_MEAN_SQUARED_ERROR_RMSE, "<", "root mean squared error"),
    (MEAN_ABSOLUTE_ERROR_MAE, "<", "mean absolute error"),
    (R2_SCORE, ">=", "coefficient of determination"),
)


def get_operator(metric_name: str) -> str | None:
    """The registered operator of ``metric_name`` (from every installed plugin), or None."""
    from rose.plugins import registry

    spec = registry().metrics.get(metric_name)
    return spec.operator if spec is not None else None


def is_supported_metric(metric_name: str) -> bool:
    """True when ``metric_name`` is registered (built in or by a plugin)."""
    return get_operator(metric_name) is not None


def direction_of(metric_name: str, operator: str = "") -> str:
    """``"max"`` when larger is better for this metric, ``"min"`` otherwise."""
    op = operator or get_operator(metric_name) or "<"
    return "max" if op in (">", ">=") else "min"


def resolve_operator(metric_name: str, operator: str = "") -> str:
    """The operator a criterion uses: the user's if given, else the registry's.

    Raises ValueError for a custom metric without an operator, or an unknown operator.
    """
    if operator:
        if operator not in OPERATORS:
            raise ValueError(
                f"unknown comparison operator {operator!r} for metric {metric_name!r}; "
                f"use one of {', '.join(OPERATORS)} (constants in rose.metrics)"
            )
        return operator
    registered = get_operator(metric_name)
    if registered is None:
        raise ValueError(
            f"metric {metric_name!r} is not a registered metric, so the stop criterion "
            f"needs an operator: as_stop_criterion(metric_name={metric_name!r}, threshold=..., "
            f"operator=GREATER_THAN_THRESHOLD) (or LESS_THAN_THRESHOLD, ...)"
        )
    return registered


def compare(value: float, threshold: float, operator: str) -> bool:
    """True when ``value OP threshold`` holds (``=``/``==`` compare with a tolerance)."""
    if operator == "<":
        return value < threshold
    if operator == ">":
        return value > threshold
    if operator == "<=":
        return value <= threshold
    if operator == ">=":
        return value >= threshold
    if operator in ("=", "=="):
        return math.isclose(value, threshold, rel_tol=1e-9, abs_tol=1e-12)
    raise ValueError(f"unknown comparison operator {operator!r}; use one of {OPERATORS}")


def check_metric_value(value: Any, metric_name: str | None, source: str) -> float | None:
    """``value`` as a float if it is a finite real number (None stays None), else a ValueError
    naming the metric and ``source`` (which policy, iteration and criterion task produced it)."""
    if value is None:
        return None
    if isinstance(value, (str, bytes)):
        why = f"{value!r} is a string, not a number"
    elif isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(value, "__float__"):
        why = f"{value!r} is not a number"
    else:
        number = float(value)
        if math.isfinite(number):
            return number
        why = f"{number} is not a finite number (it can never meet a threshold, so the campaign would not stop)"
    raise ValueError(
        f"metric {metric_name or '(no criterion)'!r} of {source}: {why}. Return the criterion's value as a finite "
        f"number (met, value = await step.criterion() gives one), or None when the iteration has no metric."
    )


def compare_metric(metric_name: str, metric_value: float, threshold: float, operator: str = "") -> bool:
    """ROSE 0.3 compatible: ``value OP threshold`` with the metric's (or given) operator."""
    return compare(metric_value, threshold, resolve_operator(metric_name, operator))


#: the name of every metric and operator constant above (what ``rose.<NAME>`` also gives, as in 0.3)
METRIC_CONSTANTS: tuple[str, ...] = tuple(
    name for name, value in list(globals().items())
    if name.isupper() and isinstance(value, str) and not name.startswith("_")
)


def _learning_metrics_members() -> dict[str, Any]:
    members: dict[str, Any] = {name: globals()[name] for name in METRIC_CONSTANTS
                               if name not in ("RMSE", "MAE", "R2")}  # aliases would collapse into one member
    members["OPERATORS"] = {name: op for name, op, _ in BUILTIN_METRICS}
    return members


class _LearningMetricsBase(Enum):
    """Methods of :class:`LearningMetrics` (an Enum with members cannot be subclassed)."""

    @staticmethod
    def is_supported_metric(metric_name: str) -> bool:
        """True when ``metric_name`` is registered (built in or by a plugin)."""
        return is_supported_metric(metric_name)

    @staticmethod
    def get_operator(metric_name: str) -> str | None:
        """The registered operator of ``metric_name``, or None for a custom metric."""
        return get_operator(metric_name)


#: ROSE 0.3's ``LearningMetrics``: an Enum of the metric and operator constants (``.value``
#: is the string), ``LearningMetrics.OPERATORS.value`` maps each built-in metric to the
#: operator that stops a campaign, and ``is_supported_metric`` / ``get_operator`` answer
#: from the registry (so plugins' metrics count too). New code uses the module constants.
LearningMetrics = _LearningMetricsBase("LearningMetrics", _learning_metrics_members())  # type: ignore[call-arg]
LearningMetrics.__module__ = __name__
