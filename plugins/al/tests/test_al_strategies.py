"""rose_plugin_al.strategies against hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from rose_plugin_al import strategies as st


def test_top_k_keeps_input_order_on_ties() -> None:
    assert st.top_k([0.5, 0.9, 0.9, 0.1], 2).tolist() == [1, 2]
    assert st.top_k([0.5, 0.9, 0.9, 0.1], 2, largest=False).tolist() == [3, 0]
    with pytest.raises(ValueError, match="NaN"):
        st.top_k([0.1, float("nan")], 1)
    with pytest.raises(ValueError, match="k must be a whole number >= 1"):
        st.top_k([0.1], 0)


def test_random_is_distinct_and_reproducible() -> None:
    first = st.select_random(10, 5, seed=3)
    assert len(set(first.tolist())) == 5 and all(0 <= i < 10 for i in first)
    assert st.select_random(10, 5, seed=3).tolist() == first.tolist()
    assert sorted(st.select_random(3, 10, seed=1).tolist()) == [0, 1, 2]


def test_max_variance() -> None:
    # candidate variances over the two models: [1, 0, 1]
    preds = [[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]]
    assert st.variance_scores(preds) == pytest.approx([1.0, 0.0, 1.0])
    assert st.select_max_variance(preds, 2).tolist() == [0, 2]
    assert st.select_uncertainty([0.2, 0.7, 0.4], 1).tolist() == [1]
    assert st.select_uncertainty([0.2, 0.7, 0.4], 1, most_uncertain="low").tolist() == [0]


PROBS = [[0.6, 0.4], [0.9, 0.1], [0.5, 0.5]]


def test_margin_selects_the_smallest_margins() -> None:
    assert st.margin_scores(PROBS) == pytest.approx([0.2, 0.8, 0.0])
    assert st.select_margin(PROBS, 2).tolist() == [2, 0]
    # MC samples are averaged first: mean of [0.8, 0.2] and [0.4, 0.6] is [0.6, 0.4]
    assert st.margin_scores([[[0.8, 0.2]], [[0.4, 0.6]]]) == pytest.approx([0.2])


def test_entropy() -> None:
    expected = [-(0.6 * math.log(0.6) + 0.4 * math.log(0.4)), -(0.9 * math.log(0.9) + 0.1 * math.log(0.1)), math.log(2)]
    assert st.entropy_scores(PROBS) == pytest.approx(expected, abs=1e-9)
    assert st.select_entropy(PROBS, 2).tolist() == [2, 0]


def phi(z: float) -> float:
    return math.exp(-z * z / 2) / math.sqrt(2 * math.pi)


def Phi(z: float) -> float:
    return 0.5 * (1 + math.erf(z / math.sqrt(2)))


def test_expected_improvement() -> None:
    # minimise, best 0.8: candidate 0 is certain and worse (EI 0); candidate 1: gain 0.3, sigma 1
    ei = st.expected_improvement([1.0, 0.5], [0.0, 1.0], best=0.8)
    assert ei == pytest.approx([0.0, 0.3 * Phi(0.3) + phi(0.3)])
    # maximise: candidate 0 is certain and better by 0.2; candidate 1: gain -0.3, sigma 1
    ei = st.expected_improvement([1.0, 0.5], [0.0, 1.0], best=0.8, maximize=True)
    assert ei == pytest.approx([0.2, -0.3 * Phi(-0.3) + phi(-0.3)])
    assert st.select_expected_improvement([1.0, 0.5], [0.0, 1.0], 0.8, 1, maximize=True).tolist() == [1]
    # xi shifts the gain: gain 0.3 - 0.1 = 0.2
    assert st.expected_improvement([0.5], [1.0], best=0.8, xi=0.1) == pytest.approx([0.2 * Phi(0.2) + phi(0.2)])


def test_greedy_k_center() -> None:
    points = np.array([[0.0], [1.0], [2.0], [10.0], [11.0]])
    # start at 0; farthest is 11 (index 4); then 2 (distance 2 to {0, 11}) beats 1 and 10 (distance 1)
    assert st.greedy_k_center(points, 3).tolist() == [0, 4, 2]
    # with point 0 already labeled, only candidates 1..4 may be picked
    assert st.greedy_k_center(points, 2, candidates=[1, 2, 3, 4], selected=[0]).tolist() == [4, 2]
    with pytest.raises(ValueError, match="not one of the candidates"):
        st.greedy_k_center(points, 2, candidates=[1, 2], first=4)


def test_diverse_batch_avoids_near_duplicates() -> None:
    scores = [0.9, 0.85, 0.1, 0.8, 0.2]
    features = [[0.0], [0.1], [5.0], [3.0], [4.0]]
    assert st.top_k(scores, 2).tolist() == [0, 1]  # plain top-2: two near-identical points
    # pool = 3 most uncertain = [0, 1, 3]; start at 0; 3 is farther from 0 than 1
    assert st.select_diverse(scores, features, 2, pool_size=3).tolist() == [0, 3]
    with pytest.raises(ValueError, match="pool_size"):
        st.select_diverse(scores, features, 3, pool_size=2)
