"""models/explain.py: exact TreeSHAP from XGBoost's ``pred_contribs``."""

from __future__ import annotations

import numpy as np
import pytest

from models.boosting import predict_margin, train_booster
from models.explain import Explanation, explain

NAMES = ("ldh", "ecog", "noise")


@pytest.fixture(scope="module")
def fitted() -> tuple[object, np.ndarray]:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 3)).astype(np.float32)
    X[rng.random((400, 3)) < 0.15] = np.nan
    time = np.ceil(rng.exponential(300 * np.exp(-np.nan_to_num(X[:, 0]))))
    event = rng.random(400) < 0.7
    params = {"objective": "survival:cox", "max_depth": 3, "eta": 0.1, "seed": 0, "nthread": 1}
    booster = train_booster(params, X, label=np.where(event, time, -time), rounds=30, feature_names=NAMES)
    return booster, X


def test_base_value_plus_contributions_is_the_margin(fitted):
    booster, X = fitted
    explanation = explain(booster, X, NAMES)
    assert explanation.contributions.shape == (len(X), 3) and explanation.base_value.shape == (len(X),)
    assert explanation.contributions.dtype == np.float64 and explanation.feature_names == NAMES
    np.testing.assert_allclose(explanation.margin, predict_margin(booster, X), rtol=1e-5, atol=1e-5)


def test_the_feature_carrying_the_hazard_carries_the_contributions(fitted):
    booster, X = fitted
    contributions = explain(booster, X, NAMES).contributions
    share = np.abs(contributions).mean(axis=0)
    assert share.argmax() == 0  # "ldh" drives the simulated hazard
    known = ~np.isnan(X[:, 0])
    assert np.corrcoef(X[known, 0], contributions[known, 0])[0, 1] > 0.8


def test_a_missing_value_still_gets_an_explanation(fitted):
    booster, _ = fitted
    row = np.array([[np.nan, np.nan, np.nan]], dtype=np.float32)
    explanation = explain(booster, row, NAMES)
    np.testing.assert_allclose(explanation.margin, predict_margin(booster, row), atol=1e-5)


def test_an_empty_matrix_gives_an_empty_explanation(fitted):
    booster, _ = fitted
    explanation = explain(booster, np.empty((0, 3), dtype=np.float32), NAMES)
    assert explanation.base_value.shape == (0,) and explanation.contributions.shape == (0, 3)
    assert explanation.margin.shape == (0,) and explanation.feature_names == NAMES


def test_margin_property_sums_base_and_contributions():
    explanation = Explanation(np.array([0.5, -1.0]), np.array([[1.0, 2.0], [0.25, 0.25]]), ("a", "b"))
    np.testing.assert_array_equal(explanation.margin, [3.5, -0.5])
