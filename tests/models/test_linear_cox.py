"""models/linear_cox.py: the elastic-net Cox comparator."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from features.catalogue import load_catalogue
from models.linear_cox import LinearCoxSurvival
from synth.frames import random_survival_frame

SPECS = load_catalogue().feature_specs("preinfusion")
TIMES = [90, 180, 365, 730]


@pytest.fixture(scope="module")
def data():
    return random_survival_frame(800, seed=3)


def test_linear_cox_learns_and_predicts_risk_curves(data):
    frame, targets = data
    model = LinearCoxSurvival(SPECS, alpha=0.05).fit(frame.iloc[:600], targets.iloc[:600])
    risk = model.predict_risk(frame.iloc[600:], TIMES)
    assert risk.shape == (200, 4) and ((risk >= 0) & (risk <= 1)).all() and (np.diff(risk, axis=1) >= 0).all()
    assert model.score(frame.iloc[600:], targets.iloc[600:]) > 0.6


def test_risk_rises_with_the_linear_predictor(data):
    frame, targets = data
    model = LinearCoxSurvival(SPECS, alpha=0.05).fit(frame, targets)
    order = np.argsort(model.predict(frame.iloc[:50]))
    risk = model.predict_risk(frame.iloc[:50], [365])[order, 0]
    assert (np.diff(risk) >= -1e-12).all()


def test_a_large_penalty_shrinks_every_coefficient_to_zero(data):
    frame, targets = data
    with pytest.warns(UserWarning, match="all coefficients are zero"):
        model = LinearCoxSurvival(SPECS, alpha=10.0, l1_ratio=1.0).fit(frame, targets)
    assert np.ptp(model.predict(frame)) == 0  # one risk curve for everyone: the Breslow baseline
    small = LinearCoxSurvival(SPECS, alpha=0.01).fit(frame, targets)
    assert np.ptp(small.predict(frame)) > 0


def test_unseen_patients_with_missing_values_are_scored(data):
    frame, targets = data
    model = LinearCoxSurvival(SPECS, alpha=0.05).fit(frame, targets)
    empty_row = frame.iloc[:1].copy()
    empty_row[[s.name for s in SPECS]] = None
    assert np.isfinite(model.predict_risk(empty_row, TIMES)).all()


def test_params_round_trip_through_clone_and_set_params():
    model = LinearCoxSurvival(SPECS, alpha=0.1, l1_ratio=0.9)
    copy = clone(model).set_params(alpha=0.01)
    assert (copy.alpha, copy.l1_ratio, model.alpha) == (0.01, 0.9, 0.1)
    assert list(copy.specs) == list(SPECS)
