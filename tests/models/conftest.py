"""A small trained predictor shared by the packaging tests."""

from __future__ import annotations

import pytest

from features.catalogue import load_catalogue
from models.predictor import ModelMetadata, RelapsePredictor, RiskThresholds
from models.xgb_survival import XGBCoxSurvival
from synth.frames import random_survival_frame


@pytest.fixture(scope="session")
def small_predictor() -> RelapsePredictor:
    """A boosted Cox model on 400 random patients, packaged with made-up ranges and metrics."""
    frame, targets = random_survival_frame(400, seed=21)
    specs = load_catalogue().feature_specs("preinfusion")
    model = XGBCoxSurvival(specs, n_estimators=30, recalibration_folds=2).fit(frame, targets)
    metadata = ModelMetadata(
        landmark="preinfusion",
        baseline_cumulative_hazard=tuple(model.baseline_at((90, 180, 365, 730))),
        margin_slope=model.slope_,
        features=list(model.specs),
        thresholds=RiskThresholds(low=0.3, high=0.6),
        training_ranges={"ldh_preld": (100.0, 900.0), "ecog_preld": (0.0, 3.0)},
        metrics={"holdout_uno_c_365": 0.7},
        training_fingerprint="test",
        trained_at="2026-01-01T00:00:00",
    )
    return RelapsePredictor(model.booster_, metadata)
