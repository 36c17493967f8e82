"""The gradient-boosted Cox estimator learns from censored patients and its absolute risks are calibrated."""

from __future__ import annotations

import numpy as np
import pytest
from sksurv.metrics import concordance_index_censored

from features.catalogue import load_catalogue
from models.xgb_survival import XGBCoxSurvival
from synth.frames import random_survival_frame
from training.observed import km_risk

SPECS = load_catalogue().feature_specs("preinfusion")


def test_learns_the_planted_hazard_from_censored_data():
    frame, targets = random_survival_frame(1500, seed=1, censoring_rate=1 / 300)
    assert (~targets["event"]).mean() > 0.3  # heavily censored
    model = XGBCoxSurvival(SPECS, n_estimators=120).fit(frame.iloc[:1000], targets.iloc[:1000])
    test, test_targets = frame.iloc[1000:], targets.iloc[1000:]
    c = concordance_index_censored(
        test_targets["event"].to_numpy(), test_targets["time"].to_numpy(), model.predict(test)
    )[0]
    assert c > 0.65


def test_cross_fitted_baseline_gives_calibrated_mean_risk_on_new_patients():
    frame, targets = random_survival_frame(4000, seed=2, missing=0.1)
    model = XGBCoxSurvival(SPECS, n_estimators=300, max_depth=4, learning_rate=0.08).fit(
        frame.iloc[:2500], targets.iloc[:2500]
    )
    held = targets.iloc[2500:]
    observed = km_risk(held["time"].to_numpy(), held["event"].to_numpy(), 365)[0]
    predicted = model.predict_risk(frame.iloc[2500:], [365])[:, 0].mean()
    assert 0 < model.slope_ < 1  # deep trees overfit: their margin is shrunk
    assert abs(predicted - observed) < 0.03


def test_in_sample_breslow_without_recalibration_keeps_slope_one():
    frame, targets = random_survival_frame(300, seed=3)
    model = XGBCoxSurvival(SPECS, n_estimators=30, recalibration_folds=0).fit(frame, targets)
    raw = model.booster_.predict(model._matrix(frame), output_margin=True)
    assert model.slope_ == 1.0
    np.testing.assert_allclose(model.predict(frame), raw, rtol=1e-6)


def test_refuses_data_without_events_or_specs():
    frame, targets = random_survival_frame(50, seed=4)
    with pytest.raises(ValueError, match="no events"):
        XGBCoxSurvival(SPECS).fit(frame, targets.assign(event=False))
    with pytest.raises(ValueError, match="at least one feature"):
        XGBCoxSurvival(()).fit(frame, targets)


def test_score_is_the_partial_log_likelihood_higher_for_a_better_model():
    frame, targets = random_survival_frame(1200, seed=5)
    good = XGBCoxSurvival(SPECS, n_estimators=80, recalibration_folds=0).fit(
        frame.iloc[:800], targets.iloc[:800]
    )
    noise = XGBCoxSurvival(SPECS, n_estimators=80, recalibration_folds=0).fit(
        frame.iloc[:800], targets.iloc[:800].sample(frac=1, random_state=0).set_axis(targets.index[:800])
    )
    assert good.score(frame.iloc[800:], targets.iloc[800:]) > noise.score(
        frame.iloc[800:], targets.iloc[800:]
    )
