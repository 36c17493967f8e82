"""The packaged predictor: the pyfunc columns, additivity on the margin, monotone risks, absolute
risk groups, empty input, encoding errors, and a save/load round trip."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.catalogue import load_catalogue
from models.encode import EncodingError, encode_features
from models.predictor import ModelMetadata, RelapsePredictor, RiskThresholds
from models.xgb_survival import XGBCoxSurvival
from synth.frames import random_survival_frame

HORIZONS = (90, 180, 365, 730)


@pytest.fixture(scope="module")
def model() -> XGBCoxSurvival:
    frame, targets = random_survival_frame(600, seed=1)
    specs = load_catalogue().feature_specs("preinfusion")
    return XGBCoxSurvival(specs, n_estimators=60, recalibration_folds=2).fit(frame, targets)


@pytest.fixture(scope="module")
def predictor(model) -> RelapsePredictor:
    metadata = ModelMetadata(
        landmark="preinfusion",
        baseline_cumulative_hazard=tuple(model.baseline_at(HORIZONS)),
        margin_slope=model.slope_,
        features=list(model.specs),
        thresholds=RiskThresholds(low=0.3, high=0.6),
        training_ranges={"ldh_preld": (100.0, 900.0)},
        metrics={},
        training_fingerprint="test",
        trained_at="2026-01-01T00:00:00",
    )
    return RelapsePredictor(model.booster_, metadata)


def test_output_columns_are_the_contract(predictor):
    frame, _ = random_survival_frame(20, seed=2)
    out = predictor.predict_frame(frame)
    fixed = [
        "risk_90d",
        "risk_180d",
        "risk_365d",
        "risk_730d",
        "relapse_probability",
        "risk_group",
        "margin",
        "base_value",
    ]
    assert list(out.columns[:8]) == fixed
    assert list(out.columns[8:]) == [f"contrib__{s.name}" for s in predictor.metadata.features]


def test_contributions_add_up_to_the_margin_and_match_the_estimator(predictor, model):
    frame, _ = random_survival_frame(200, seed=3)
    out = predictor.predict_frame(frame)
    contributions = out.filter(like="contrib__").to_numpy()
    np.testing.assert_allclose(out["base_value"] + contributions.sum(axis=1), out["margin"], atol=1e-5)
    np.testing.assert_allclose(out["margin"], model.predict(frame), atol=1e-5)
    np.testing.assert_allclose(
        out[["risk_90d", "risk_180d", "risk_365d", "risk_730d"]],
        model.predict_risk(frame, HORIZONS),
        atol=1e-5,
    )


def test_risks_are_probabilities_non_decreasing_in_time_and_margin(predictor):
    frame, _ = random_survival_frame(300, seed=4)
    out = predictor.predict_frame(frame).sort_values("margin")
    risks = out[["risk_90d", "risk_180d", "risk_365d", "risk_730d"]].to_numpy()
    assert ((risks >= 0) & (risks <= 1)).all()
    assert (np.diff(risks, axis=1) >= 0).all()
    assert (np.diff(risks, axis=0) >= -1e-12).all()
    np.testing.assert_array_equal(out["relapse_probability"], out["risk_365d"])


def test_risk_groups_use_absolute_thresholds(predictor):
    groups = predictor.risk_groups(np.array([0.1, 0.3, 0.59, 0.6, 0.95]))
    assert list(groups) == ["low", "intermediate", "intermediate", "high", "high"]


def test_an_empty_frame_gives_an_empty_result(predictor):
    frame, _ = random_survival_frame(3, seed=5)
    out = predictor.predict_frame(frame.iloc[:0])
    assert len(out) == 0 and list(out.columns) == list(predictor.output_columns)


def test_missing_columns_are_missing_values_and_extra_columns_ignored(predictor):
    frame, _ = random_survival_frame(5, seed=6)
    full = predictor.predict_frame(frame.assign(unrelated=1))
    partial = predictor.predict_frame(frame.drop(columns=["tmtv_preld"]))
    assert np.isfinite(partial["margin"]).all() and full.shape == partial.shape


def test_unknown_category_level_names_the_column():
    specs = load_catalogue().feature_specs("preinfusion")
    frame, _ = random_survival_frame(3, seed=7)
    frame.loc[0, "product"] = "obe-cel"
    with pytest.raises(EncodingError, match="product: unknown level 'obe-cel'"):
        encode_features(frame, specs)


def test_metadata_refuses_a_decreasing_baseline_or_a_non_positive_slope(predictor):
    data = predictor.metadata.model_dump()
    with pytest.raises(ValueError, match="non-decreasing"):
        ModelMetadata.model_validate({**data, "baseline_cumulative_hazard": (0.5, 0.4, 0.6, 0.7)})
    with pytest.raises(ValueError, match="margin_slope"):
        ModelMetadata.model_validate({**data, "margin_slope": 0.0})


def test_save_and_load_roundtrip(predictor, tmp_path):
    frame, _ = random_survival_frame(20, seed=8)
    again = RelapsePredictor.load(*predictor.save(tmp_path))
    pd.testing.assert_frame_equal(again.predict_frame(frame), predictor.predict_frame(frame))
