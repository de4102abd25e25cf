"""UQScorer: every score against a hand-computed case, selection direction, registry."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rose.uq import UQ_REGISTRY, UQScorer, register_uq


def H(*p: float) -> float:
    return -sum(x * math.log(x) for x in p if x > 0)


# 2 MC samples x 3 instances x 2 classes
CLS = [
    [[0.9, 0.1], [0.5, 0.5], [0.6, 0.4]],
    [[0.7, 0.3], [0.2, 0.8], [0.4, 0.6]],
]
# mean distributions: [0.8, 0.2], [0.35, 0.65], [0.5, 0.5]


def test_predictive_entropy() -> None:
    got = UQScorer("classification").predictive_entropy(CLS)
    assert got == pytest.approx([H(0.8, 0.2), H(0.35, 0.65), math.log(2)], abs=1e-6)


def test_mutual_information() -> None:
    got = UQScorer("classification").mutual_information(CLS)
    expected = [
        H(0.8, 0.2) - (H(0.9, 0.1) + H(0.7, 0.3)) / 2,
        H(0.35, 0.65) - (math.log(2) + H(0.2, 0.8)) / 2,
        math.log(2) - (H(0.6, 0.4) + H(0.4, 0.6)) / 2,
    ]
    assert got == pytest.approx(expected, abs=1e-6)


def test_variation_ratio() -> None:
    # instance 0: both samples vote class 0 -> 0; instance 1: votes 0 and 1 -> 1 - 1/2; instance 2: 0 and 1
    assert UQScorer("classification").variation_ratio(CLS) == pytest.approx([0.0, 0.5, 0.5])


def test_margin_and_least_confidence() -> None:
    scorer = UQScorer("classification")
    assert scorer.margin(CLS) == pytest.approx([0.6, 0.3, 0.0])
    assert scorer.least_confidence(CLS) == pytest.approx([0.2, 0.35, 0.5])


def test_classification_nll_with_labels_and_one_hot() -> None:
    scorer = UQScorer("classification")
    expected = [-math.log(0.8), -math.log(0.65), -math.log(0.5)]
    assert scorer.negative_log_likelihood(CLS, [0, 1, 1]) == pytest.approx(expected, abs=1e-6)
    one_hot = [[1, 0], [0, 1], [0, 1]]
    assert scorer.negative_log_likelihood(CLS, one_hot) == pytest.approx(expected, abs=1e-6)


# 4 MC samples x 2 instances
REG = [[1.0, 0.0], [2.0, 2.0], [3.0, 0.0], [4.0, 2.0]]


def test_predictive_variance() -> None:
    # instance 0: mean 2.5, squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5 -> 5 / 4
    assert UQScorer("regression").predictive_variance(REG) == pytest.approx([1.25, 1.0])


def test_predictive_interval_width() -> None:
    # linear percentiles of [1, 2, 3, 4]: 97.5% at position 2.925 -> 3.925; 2.5% at 0.075 -> 1.075
    # of [0, 0, 2, 2]: 97.5% -> 2.0; 2.5% -> 0.0
    scorer = UQScorer("regression")
    assert scorer.predictive_interval_width(REG) == pytest.approx([2.85, 2.0])
    # 50% interval of [1, 2, 3, 4]: 75% at 2.25 -> 3.25; 25% at 0.75 -> 1.75
    assert scorer.predictive_interval_width(REG, quantile=0.5)[0] == pytest.approx(1.5)


def test_regression_nll() -> None:
    # Gaussian NLL: 0.5 * log(2 pi var) + (y - mean)^2 / (2 var)
    got = UQScorer("regression").negative_log_likelihood(REG, [2.5, 0.0])
    expected = [0.5 * math.log(2 * math.pi * 1.25), 0.5 * math.log(2 * math.pi * 1.0) + 0.5]
    assert got == pytest.approx(expected, abs=1e-6)


def test_select_top_uncertain_direction_for_every_score() -> None:
    cls = UQScorer("classification")
    idx, scores = cls.select_top_uncertain(CLS, k=2, metric="margin")
    assert idx.tolist() == [2, 1] and scores == pytest.approx([0.0, 0.3])  # smallest margins
    for metric, expected in (
        ("predictive_entropy", [2, 1]),
        ("least_confidence", [2, 1]),
        ("variation_ratio", [1, 2]),
        ("mutual_information", [1, 0]),
    ):
        assert cls.select_top_uncertain(CLS, k=2, metric=metric)[0].tolist() == expected, metric
    assert cls.select_top_uncertain(CLS, k=1)[0].tolist() == [2]  # default: predictive entropy
    assert cls.select_top_uncertain(CLS, k=1, metric="negative_log_likelihood", y_true=[0, 0, 1])[0].tolist() == [1]
    reg = UQScorer("regression")
    assert reg.select_top_uncertain(REG, k=1)[0].tolist() == [0]  # default: predictive variance
    assert reg.select_top_uncertain(REG, k=1, metric="predictive_interval_width")[0].tolist() == [0]
    assert reg.select_top_uncertain(REG, k=5)[0].tolist() == [0, 1]  # k larger than the pool


def test_compute_uncertainty_runs_the_scores_of_the_task_type() -> None:
    assert set(UQScorer("regression").compute_uncertainty(REG)) >= {"predictive_variance", "predictive_interval_width"}
    results = UQScorer("classification").compute_uncertainty(CLS, y_true=[0, 1, 1])
    assert {"predictive_entropy", "margin", "negative_log_likelihood"} <= set(results)
    assert "predictive_variance" not in results


def test_input_validation() -> None:
    with pytest.raises(ValueError, match="task_type must be 'classification' or 'regression'"):
        UQScorer("ranking")
    with pytest.raises(ValueError, match=r"shape \[n_mc_samples, n_instances, n_classes\], got shape \(2, 3\)"):
        UQScorer("classification").predictive_entropy([[0.1, 0.2, 0.3], [0.1, 0.2, 0.3]])
    with pytest.raises(TypeError, match="same shape"):
        UQScorer("regression").predictive_variance([[1.0, 2.0], [1.0]])
    with pytest.raises(ValueError, match="y_true has 2 entries but mc_preds has 3 instances"):
        UQScorer("classification").negative_log_likelihood(CLS, [0, 1])
    with pytest.raises(ValueError, match="class indices"):
        UQScorer("classification").negative_log_likelihood(CLS, [0, 1, 2])
    with pytest.raises(ValueError, match="not registered"):
        UQScorer("regression").select_top_uncertain(REG, metric="nope")
    with pytest.raises(ValueError, match="does not apply to regression"):
        UQScorer("regression").select_top_uncertain(REG, metric="margin")


def test_register_custom_score() -> None:
    try:

        @register_uq("test_max_abs", task_types=("regression",))
        def max_abs(scorer: UQScorer, mc_preds: object) -> np.ndarray:
            preds, _ = scorer._validate_inputs(mc_preds)
            return np.abs(preds).max(axis=0)

        assert UQScorer("regression").select_top_uncertain(REG, k=1, metric="test_max_abs")[0].tolist() == [0]
        with pytest.raises(ValueError, match="already registered"):
            register_uq("test_max_abs")(lambda scorer, preds: preds)
    finally:
        UQ_REGISTRY.pop("test_max_abs", None)
