"""models/xgb_classifier.py: the boosted binary classifier on feature frames (base of the IPCW reference)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from features.catalogue import load_catalogue
from models.xgb_classifier import XGBRelapseClassifier
from synth.frames import random_feature_frame

SPECS = load_catalogue().feature_specs("preinfusion")
PLANTED = [s for s in SPECS if s.name in ("ldh_preld", "ecog_preld", "product")]  # what the label depends on


@pytest.fixture(scope="module")
def data():
    return random_feature_frame(1000, seed=5)


def _model(**params) -> XGBRelapseClassifier:
    return XGBRelapseClassifier(SPECS, n_estimators=40, **params)


def test_learns_the_planted_label_and_gives_probabilities(data):
    frame, label = data
    model = XGBRelapseClassifier(PLANTED, n_estimators=40).fit(frame.iloc[:700], label.iloc[:700])
    proba = model.predict_proba(frame.iloc[700:])
    assert proba.shape == (300, 2) and ((proba >= 0) & (proba <= 1)).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert roc_auc_score(label.iloc[700:], proba[:, 1]) > 0.65  # 0.71 with seed 5
    assert model.predict(frame.iloc[700:]).tolist() == (proba[:, 1] >= 0.5).astype(int).tolist()
    assert model.classes_.tolist() == [0, 1] and model.feature_names_ == tuple(s.name for s in PLANTED)


def test_sample_weights_are_used(data):
    frame, label = data
    plain = _model().fit(frame, label).predict_proba(frame)[:, 1]
    unit = _model().fit(frame, label, sample_weight=np.ones(len(label))).predict_proba(frame)[:, 1]
    weighted = (
        _model().fit(frame, label, sample_weight=np.where(label == 1, 4.0, 1.0)).predict_proba(frame)[:, 1]
    )
    np.testing.assert_allclose(unit, plain, rtol=1e-6)  # unit weights are no weights
    assert weighted.mean() > plain.mean() + 0.1  # up-weighted events raise the predicted probability


def test_same_seed_same_model_and_the_seed_matters(data):
    frame, label = data
    first = _model(random_state=1).fit(frame, label).predict_proba(frame)
    again = _model(random_state=1).fit(frame, label).predict_proba(frame)
    other = _model(random_state=2).fit(frame, label).predict_proba(frame)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_hyperparameters_reach_the_booster():
    params = _model(max_depth=5, learning_rate=0.2, reg_lambda=3.0, n_jobs=2, random_state=9).booster_params()
    assert params["objective"] == "binary:logistic"
    assert (params["max_depth"], params["eta"], params["lambda"], params["nthread"], params["seed"]) == (
        5,
        0.2,
        3.0,
        2,
        9,
    )


def test_bad_inputs_are_refused(data):
    frame, label = data
    with pytest.raises(ValueError, match="at least one feature spec"):
        XGBRelapseClassifier().fit(frame, label)
    with pytest.raises(ValueError, match="labels must be 0/1"):
        _model().fit(frame, label.where(label == 0, 2.0))


def test_params_round_trip_through_clone_and_set_params():
    model = _model(max_depth=4)
    copy = clone(model)
    assert copy.get_params() == model.get_params() and copy is not model
    copy.set_params(max_depth=2, subsample=0.5)
    assert (copy.max_depth, copy.subsample, model.max_depth) == (2, 0.5, 4)
