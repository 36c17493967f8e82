"""training/package.py: the winner packaged with its baseline, risk groups, ranges and headline metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.xgb_survival import XGBCoxSurvival
from synth.frames import random_feature_frame
from training.candidates import MAIN, make_candidates
from training.config import load_training_config
from training.dataset import load_training_data
from training.observed import km_risk
from training.package import MIN_VALUES_FOR_RANGE, observed_risk_by_group, package_winner, training_ranges

CONFIG = load_training_config()
MAIN_CANDIDATE = next(c for c in make_candidates("preinfusion") if c.name == MAIN)


@pytest.fixture(scope="module")
def data(tiny_store):
    return load_training_data(tiny_store, "preinfusion")


@pytest.fixture(scope="module")
def model(data):
    dev = data.development
    return XGBCoxSurvival(MAIN_CANDIDATE.specs, n_estimators=30, recalibration_folds=2).fit(
        data.frame[dev], data.y(dev)
    )


def test_the_packaged_predictor_is_the_winner_with_its_baseline_and_metrics(data, model):
    dev = data.development
    oof = model.predict_risk(data.frame[dev], [365])[:, 0]
    cv = pd.Series({"uno_c_365": 0.71, "uno_c_365_lo": 0.66, "uno_c_365_hi": 0.75, "auc_365": np.nan})
    holdout = pd.Series({"uno_c_365": 0.69, "ibs": 0.18, "ibs_lo": 0.16, "ibs_hi": 0.2, "not_a_summary": 1.0})
    predictor = package_winner(
        model, MAIN_CANDIDATE, data, config=CONFIG, cv=cv, holdout=holdout, oof_risk=oof
    )
    meta = predictor.metadata
    assert predictor.booster is model.booster_ and meta.landmark == "preinfusion"
    assert meta.baseline_cumulative_hazard == pytest.approx(tuple(model.baseline_at(CONFIG.horizons_days)))
    assert meta.margin_slope == pytest.approx(model.slope_)
    assert [s.name for s in meta.features] == [s.name for s in MAIN_CANDIDATE.specs]
    assert (meta.thresholds.low, meta.thresholds.high) == (CONFIG.risk_groups.low, CONFIG.risk_groups.high)
    assert meta.metrics == {
        "cv_uno_c_365": 0.71,
        "cv_uno_c_365_lo": 0.66,
        "cv_uno_c_365_hi": 0.75,
        "holdout_uno_c_365": 0.69,
        "holdout_ibs": 0.18,
        "holdout_ibs_lo": 0.16,
        "holdout_ibs_hi": 0.2,
    }  # NaN and non-summary metrics are left out
    assert meta.training_fingerprint == data.fingerprint
    np.testing.assert_allclose(
        predictor.predict_frame(data.frame.iloc[:20])["risk_365d"],
        model.predict_risk(data.frame.iloc[:20], [365])[:, 0],
        rtol=1e-5,
    )


def test_observed_risk_is_kaplan_meier_within_each_out_of_fold_group(data):
    n = int(data.development.sum())
    oof = np.linspace(0.0, 0.99, n)
    observed = observed_risk_by_group(data, oof, CONFIG)
    assert set(observed) == {"low", "intermediate", "high"}
    targets = data.targets[data.development]
    low = oof < CONFIG.risk_groups.low
    expected = km_risk(targets["time"].to_numpy()[low], targets["event"].to_numpy()[low], 365)
    assert observed["low"] == pytest.approx(tuple(expected))
    point, lower, upper = observed["high"]
    assert 0 <= lower <= point <= upper <= 1


def test_an_empty_risk_group_is_left_out(data):
    n = int(data.development.sum())
    observed = observed_risk_by_group(data, np.full(n, 0.1), CONFIG)
    assert list(observed) == ["low"]


def test_training_ranges_are_the_central_99_percent_of_numeric_features():
    frame, _ = random_feature_frame(500, seed=2, missing=0.0)
    frame.loc[frame.index[MIN_VALUES_FOR_RANGE - 1 :], "tmtv_preld"] = np.nan  # too few values for a range
    ranges = training_ranges(frame, MAIN_CANDIDATE)
    ldh = frame["ldh_preld"]
    assert ranges["ldh_preld"] == pytest.approx((ldh.quantile(0.005), ldh.quantile(0.995)))
    assert "product" not in ranges and "tmtv_preld" not in ranges
    types = {s.name: s.type for s in MAIN_CANDIDATE.specs}
    assert all(types[name] in ("float", "int") for name in ranges)
