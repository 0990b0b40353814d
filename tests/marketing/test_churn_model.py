"""The churn model's logistic regression and AUC on examples small enough to solve by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from assets.marketing.churn_model import LogisticModel, auc, fit


def test_one_binary_feature_recovers_the_groups_log_odds():
    # x = 0: 1 churner in 4 (log-odds log(1/3)); x = 1: 3 in 4 (log 3). Standardized, x is -1 or +1
    # (mean 0.5, std 0.5), so intercept - b = log(1/3) and intercept + b = log 3: intercept 0, b = log 3.
    x = np.array([[0], [0], [0], [0], [1], [1], [1], [1]], dtype=float)
    y = np.array([1, 0, 0, 0, 1, 1, 1, 0])
    model = fit(x, y, ["x"], l2_penalty=0.0)
    assert model.intercept == pytest.approx(0.0, abs=1e-8)
    assert model.coefficients[0] == pytest.approx(math.log(3))
    assert model.probability(np.array([[0.0], [1.0]])) == pytest.approx([0.25, 0.75])


def test_the_penalty_shrinks_coefficients_towards_zero():
    x = np.array([[0], [0], [0], [0], [1], [1], [1], [1]], dtype=float)
    y = np.array([1, 0, 0, 0, 1, 1, 1, 0])
    assert 0 < fit(x, y, ["x"], l2_penalty=4.0).coefficients[0] < math.log(3)


def test_contributions_are_coefficient_times_standardized_value_and_missing_is_average():
    model = LogisticModel(["a", "b"], np.array([10.0, 0.0]), np.array([2.0, 1.0]), np.array([0.5, -1.0]), -2.0)
    # a = 14 is 2 std above its mean: 0.5 x 2 = 1.0; b missing counts as the mean: 0
    contributions = model.contributions(np.array([[14.0, np.nan]]))
    assert contributions.tolist() == [[1.0, 0.0]]
    assert model.probability(np.array([[14.0, np.nan]]))[0] == pytest.approx(1 / (1 + math.exp(1.0)))


def test_one_outcome_only_gives_the_smoothed_base_rate():
    # no churner among 4: (0 + 0.5) / (4 + 1) = 0.1 for everyone, nothing learned
    model = fit(np.array([[1.0], [2.0], [3.0], [4.0]]), np.zeros(4), ["x"])
    assert model.coefficients.tolist() == [0.0]
    assert model.probability(np.array([[1.0], [9.0]])) == pytest.approx([0.1, 0.1])


def test_auc_counts_correctly_ordered_pairs():
    # churners score 0.35 and 0.8, stayers 0.1 and 0.4: of 4 pairs, 0.35 < 0.4 is the only wrong one: 3 / 4
    assert auc(np.array([0.1, 0.4, 0.35, 0.8]), np.array([0, 0, 1, 1])) == 0.75
    assert auc(np.array([0.5, 0.5]), np.array([0, 1])) == 0.5  # a tie counts half
    assert auc(np.array([0.2, 0.3]), np.array([0, 0])) is None
