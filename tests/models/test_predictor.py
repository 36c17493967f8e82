"""The packaged predictor: additivity of TreeSHAP contributions, risk groups, encoding errors."""

from __future__ import annotations

import numpy as np
import pytest

from features.catalogue import load_catalogue
from models.encode import EncodingError, encode_features
from models.predictor import ModelMetadata, RelapsePredictor, RiskThresholds
from models.xgb_classifier import XGBRelapseClassifier
from tests.factories import random_feature_frame


@pytest.fixture(scope="module")
def predictor() -> RelapsePredictor:
    frame, label = random_feature_frame(500, seed=1)
    specs = load_catalogue().feature_specs("preinfusion")
    model = XGBRelapseClassifier(specs, n_estimators=60).fit(frame, label.to_numpy(int))
    metadata = ModelMetadata(landmark="preinfusion", horizon_days=365, features=specs,
                             thresholds=RiskThresholds(low=0.3, high=0.6), training_ranges={"ldh_preld": (100.0, 900.0)},
                             metrics={}, training_fingerprint="test", trained_at="2026-01-01T00:00:00")
    return RelapsePredictor(model.booster_, metadata)


def test_contributions_add_up_to_the_logit(predictor):
    frame, _ = random_feature_frame(200, seed=2)
    out = predictor.predict_frame(frame)
    contrib = out.filter(like="contrib__").to_numpy()
    p = out["relapse_probability"].to_numpy()
    np.testing.assert_allclose(out["base_value"] + contrib.sum(axis=1), np.log(p / (1 - p)), atol=1e-5)


def test_probability_matches_the_booster(predictor):
    frame, label = random_feature_frame(100, seed=3)
    import xgboost as xgb

    X = encode_features(frame, predictor.metadata.features)
    direct = predictor.booster.predict(xgb.DMatrix(X, missing=np.nan, feature_names=list(predictor.feature_names)))
    np.testing.assert_allclose(predictor.predict_frame(frame)["relapse_probability"], direct, atol=1e-6)


def test_risk_groups_follow_thresholds(predictor):
    assert list(predictor.risk_groups(np.array([0.1, 0.3, 0.59, 0.6, 0.95]))) == ["low", "intermediate", "intermediate", "high", "high"]


def test_missing_columns_are_missing_values_and_extra_columns_ignored(predictor):
    frame, _ = random_feature_frame(5, seed=4)
    full = predictor.predict_frame(frame.assign(unrelated=1))
    partial = predictor.predict_frame(frame.drop(columns=["tmtv_preld"]))
    assert np.isfinite(partial["relapse_probability"]).all()
    assert full.shape == partial.shape


def test_unknown_category_level_names_the_column():
    specs = load_catalogue().feature_specs("preinfusion")
    frame, _ = random_feature_frame(3, seed=5)
    frame.loc[0, "product"] = "obe-cel"
    with pytest.raises(EncodingError, match="product: unknown level 'obe-cel'"):
        encode_features(frame, specs)


def test_save_and_load_roundtrip(predictor, tmp_path):
    frame, _ = random_feature_frame(20, seed=6)
    again = RelapsePredictor.load(*predictor.save(tmp_path))
    np.testing.assert_array_equal(again.predict_frame(frame).to_numpy(), predictor.predict_frame(frame).to_numpy())
