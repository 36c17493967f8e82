"""models/ipcw.py: labels and inverse-probability-of-censoring weights at a horizon, and the classifier."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sksurv.nonparametric import CensoringDistributionEstimator, kaplan_meier_estimator

from features.catalogue import load_catalogue
from models.ipcw import IPCWHorizonClassifier, horizon_labels_and_weights
from synth.frames import random_survival_frame

SPECS = load_catalogue().feature_specs("preinfusion")
TIMES = [90, 180, 365, 730]


def test_ipcw_weights_follow_vock():
    time = np.array([10.0, 50.0, 200.0, 400.0, 100.0, 500.0])
    event = np.array([True, False, True, False, True, True])
    label, weight = horizon_labels_and_weights(event, time, 365.0)
    assert label.tolist() == [1, 0, 1, 0, 1, 0]
    assert weight[1] == 0  # censored before the horizon: no label
    target = np.array(list(zip(event, time, strict=True)), dtype=[("event", bool), ("time", float)])
    g = CensoringDistributionEstimator().fit(target)
    expected = 1 / g.predict_proba(np.nextafter(np.minimum(time, 365.0), -np.inf))
    np.testing.assert_allclose(weight[[0, 2, 3, 4, 5]], expected[[0, 2, 3, 4, 5]])
    _, complete = horizon_labels_and_weights(event, time, 365.0, complete_case=True)
    assert complete.tolist() == [1, 0, 1, 1, 1, 1]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_weighted_event_rate_is_the_kaplan_meier_risk(seed):
    rng = np.random.default_rng(seed)
    time = rng.integers(1, 900, 400).astype(float) + rng.random(400)  # no ties
    event = rng.random(400) < 0.6
    label, weight = horizon_labels_and_weights(event, time, 365.0)
    km_times, km_survival = kaplan_meier_estimator(event, time)
    km_risk = 1 - km_survival[np.searchsorted(km_times, 365.0, side="right") - 1]
    assert np.mean(label * weight) == pytest.approx(km_risk, abs=1e-9)
    complete = label[weight > 0].mean()  # dropping the censored overstates the risk
    assert complete > km_risk


def test_without_censoring_before_the_horizon_every_weight_is_one():
    time = np.array([30.0, 200.0, 400.0, 800.0])
    event = np.array([True, True, False, True])
    label, weight = horizon_labels_and_weights(event, time, 365.0)
    assert label.tolist() == [1, 1, 0, 0] and weight.tolist() == [1.0, 1.0, 1.0, 1.0]


@pytest.fixture(scope="module")
def censored():
    return random_survival_frame(800, seed=4, censoring_rate=1 / 250)


def test_ipcw_corrects_the_complete_case_bias(censored):
    frame, targets = censored
    ipcw = IPCWHorizonClassifier(SPECS, n_estimators=40, horizon_days=90).fit(frame, targets)
    complete = IPCWHorizonClassifier(SPECS, n_estimators=40, horizon_days=90, complete_case=True)
    complete.fit(frame, targets)
    km_times, km_survival = kaplan_meier_estimator(targets["event"].to_numpy(), targets["time"].to_numpy())
    km_risk = 1 - km_survival[np.searchsorted(km_times, 90, side="right") - 1]  # 0.50
    mean_ipcw, mean_complete = ipcw.predict(frame).mean(), complete.predict(frame).mean()  # 0.51, 0.55
    assert mean_complete > km_risk + 0.04
    assert abs(mean_ipcw - km_risk) < abs(mean_complete - km_risk) / 2


def test_ipcw_classifier_predicts_only_at_its_horizon(censored):
    frame, targets = censored
    model = IPCWHorizonClassifier(SPECS, n_estimators=30, horizon_days=180).fit(frame, targets)
    risk = model.predict_risk(frame.iloc[:10], TIMES)
    assert np.isnan(risk[:, [0, 2, 3]]).all() and np.isfinite(risk[:, 1]).all()
    np.testing.assert_array_equal(risk[:, 1], model.predict(frame.iloc[:10]))
    assert np.isnan(model.predict_risk(frame.iloc[:3], [90, 730])).all()


def test_hyperparameters_reach_the_inner_classifier_and_survive_clone(censored):
    frame, targets = censored
    model = IPCWHorizonClassifier(SPECS, n_estimators=12, max_depth=2, random_state=5, reg_lambda=2.0)
    copy = clone(model)
    assert copy.get_params() == model.get_params()
    inner = copy.fit(frame, targets).classifier_
    assert (inner.n_estimators, inner.max_depth, inner.random_state, inner.reg_lambda) == (12, 2, 5, 2.0)
    assert inner.booster_.num_boosted_rounds() == 12
