"""One scores vocabulary: strategies, query policies and UQScorer give the same numbers."""

from __future__ import annotations

import numpy as np
import pytest
from rose_plugin_al import scores, strategies
from rose_plugin_al.uq_scorer import UQScorer

import rose

MC = np.array([  # [n_mc=2, n=3, classes=3]
    [[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.2, 0.3, 0.5]],
    [[1.0, 0.0, 0.0], [0.4, 0.6, 0.0], [0.4, 0.3, 0.3]],
])


def test_a_certain_prediction_has_exactly_zero_entropy_everywhere() -> None:
    certain = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert scores.entropy(certain).tolist() == [0.0, 0.0]
    assert strategies.entropy_scores(certain).tolist() == [0.0, 0.0]
    assert UQScorer("classification").predictive_entropy(certain[None]).tolist() == [0.0, 0.0]
    assert UQScorer("classification").mutual_information(np.stack([certain, certain])).tolist() == [0.0, 0.0]


def test_the_three_apis_agree_on_entropy_and_margin() -> None:
    scorer = UQScorer("classification")
    np.testing.assert_array_equal(strategies.entropy_scores(MC), scorer.predictive_entropy(MC))
    np.testing.assert_array_equal(strategies.margin_scores(MC), scorer.margin(MC))
    picks = rose.policy("entropy").select(list(range(3)), k=2, predictions=MC)
    assert picks == scores.top_k(scores.entropy(MC), 2).tolist()
    assert scorer.select_top_uncertain(MC, k=2)[0].tolist() == picks
    assert rose.policy("margin").select(list(range(3)), k=1, predictions=MC) == \
        scorer.select_top_uncertain(MC, k=1, metric="margin")[0].tolist()


def test_a_zero_probability_true_class_has_a_finite_nll_at_the_one_floor() -> None:
    nll = UQScorer("classification").negative_log_likelihood(MC, [1, 0, 0])
    assert nll[0] == pytest.approx(-np.log(scores.EPS))
    assert np.isfinite(nll).all()


def test_every_direction_is_declared_once() -> None:
    assert scores.MOST_UNCERTAIN["margin"] == "low"
    assert {d for k, d in scores.MOST_UNCERTAIN.items() if k != "margin"} == {"high"}
    with pytest.raises(ValueError, match="NaN"):
        scores.top_k([0.1, float("nan")], 1)
