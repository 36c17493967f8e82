"""The comparators: clinical scores as one-covariate Cox models, the elastic-net Cox model and the
12-month IPCW classifier."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sksurv.nonparametric import CensoringDistributionEstimator

from features.catalogue import load_catalogue
from models.ipcw import IPCWHorizonClassifier, horizon_labels_and_weights
from models.linear_cox import LinearCoxSurvival
from models.scores import ClinicalScoreCox, ScoreUnavailableError
from synth.frames import random_survival_frame

SPECS = load_catalogue().feature_specs("preinfusion")
TIMES = [90, 180, 365, 730]


def test_score_cox_gives_a_monotone_risk_curve_rising_with_the_score():
    frame, targets = random_survival_frame(600, seed=1)
    frame["ipi"] = np.clip(np.round(frame["ldh_preld"] / 300 + frame["ecog_preld"].fillna(1)), 0, 5)
    model = ClinicalScoreCox("ipi").fit(frame, targets)
    grid = pd.DataFrame({"ipi": [0.0, 1.0, 3.0, 5.0]})
    risk = model.predict_risk(grid, TIMES)
    assert (np.diff(risk, axis=0) > 0).all() and (np.diff(risk, axis=1) >= 0).all()


def test_score_missing_for_everyone_is_refused_with_a_reason():
    frame, targets = random_survival_frame(50, seed=2)
    with pytest.raises(ScoreUnavailableError, match="'ipi' is missing for every training patient"):
        ClinicalScoreCox("ipi").fit(frame.assign(ipi=np.nan), targets)


def test_linear_cox_learns_and_predicts_risk_curves():
    frame, targets = random_survival_frame(800, seed=3)
    model = LinearCoxSurvival(SPECS, alpha=0.05).fit(frame.iloc[:600], targets.iloc[:600])
    risk = model.predict_risk(frame.iloc[600:], TIMES)
    assert risk.shape == (200, 4) and (np.diff(risk, axis=1) >= 0).all()
    assert model.score(frame.iloc[600:], targets.iloc[600:]) > 0.6


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


def test_ipcw_classifier_predicts_only_at_its_horizon():
    frame, targets = random_survival_frame(500, seed=4)
    model = IPCWHorizonClassifier(SPECS, n_estimators=30).fit(frame, targets)
    risk = model.predict_risk(frame.iloc[:10], TIMES)
    assert np.isnan(risk[:, [0, 1, 3]]).all() and np.isfinite(risk[:, 2]).all()
