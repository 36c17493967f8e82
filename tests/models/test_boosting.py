"""models/boosting.py: training on an unnamed matrix, naming afterwards, raw margins."""

from __future__ import annotations

import numpy as np
import pytest

from models.boosting import predict_margin, train_booster

NAMES = ["a", "b", "c"]
PARAMS = {
    "objective": "binary:logistic",
    "max_depth": 2,
    "eta": 0.3,
    "subsample": 0.7,
    "seed": 3,
    "nthread": 1,
}


def _data(n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)).astype(np.float32)
    X[rng.random((n, 3)) < 0.1] = np.nan
    y = (np.nan_to_num(X[:, 0]) + 0.3 * rng.normal(size=n) > 0).astype(float)
    return X, y


def test_the_booster_is_named_and_its_margin_learns_the_signal():
    X, y = _data()
    booster = train_booster(PARAMS, X, label=y, rounds=20, feature_names=NAMES)
    assert booster.feature_names == NAMES and booster.num_boosted_rounds() == 20
    margin = predict_margin(booster, X)
    assert margin.dtype == np.float64 and margin.shape == (len(X),)
    assert margin[y == 1].mean() > margin[y == 0].mean() + 1.0


def test_same_seed_same_booster_other_seed_other_booster():
    X, y = _data()
    margins = [
        predict_margin(train_booster({**PARAMS, "seed": s}, X, label=y, rounds=15, feature_names=NAMES), X)
        for s in (3, 3, 4)
    ]
    np.testing.assert_array_equal(margins[0], margins[1])
    assert not np.array_equal(margins[0], margins[2])  # subsampling depends on the seed


def test_weights_change_the_fit():
    X, y = _data()
    weight = np.where(y == 1, 5.0, 1.0)
    plain = predict_margin(train_booster(PARAMS, X, label=y, rounds=15, feature_names=NAMES), X)
    weighted = predict_margin(
        train_booster(PARAMS, X, label=y, rounds=15, feature_names=NAMES, weight=weight), X
    )
    assert weighted.mean() > plain.mean()  # up-weighting the events raises every predicted log-odds


def test_missing_values_take_the_default_branch_and_unseen_rows_are_scored():
    X, y = _data()
    booster = train_booster(PARAMS, X, label=y, rounds=10, feature_names=NAMES)
    all_missing = np.full((2, 3), np.nan, dtype=np.float32)
    assert np.isfinite(predict_margin(booster, all_missing)).all()


def test_a_matrix_of_the_wrong_width_is_refused():
    X, y = _data()
    booster = train_booster(PARAMS, X, label=y, rounds=5, feature_names=NAMES)
    with pytest.raises(ValueError, match="feature"):
        predict_margin(booster, X[:, :2])
