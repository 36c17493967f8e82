"""models/packaged.py: the MLflow pyfunc wrapper (loaded from its artifacts, scores a feature frame)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from models.packaged import PackagedRelapseModel
from synth.frames import random_feature_frame


@pytest.fixture
def loaded(small_predictor, tmp_path):
    booster, metadata = small_predictor.save(tmp_path)
    model = PackagedRelapseModel()
    model.load_context(SimpleNamespace(artifacts={"booster": str(booster), "metadata": str(metadata)}))
    return model


def test_predicting_before_loading_the_context_is_refused():
    with pytest.raises(RuntimeError, match="model context not loaded"):
        PackagedRelapseModel().predict(None, pd.DataFrame({"age": [60.0]}))


def test_the_loaded_model_scores_exactly_as_the_predictor(loaded, small_predictor):
    frame, _ = random_feature_frame(25, seed=3)
    out = loaded.predict(None, frame)
    pd.testing.assert_frame_equal(out, small_predictor.predict_frame(frame))
    assert list(out.columns) == list(small_predictor.output_columns) and len(out) == 25


def test_the_output_documented_in_the_class_holds(loaded):
    frame, _ = random_feature_frame(40, seed=4)
    out = loaded.predict(None, frame)
    risks = out[["risk_90d", "risk_180d", "risk_365d", "risk_730d"]].to_numpy()
    assert ((risks >= 0) & (risks <= 1)).all() and (np.diff(risks, axis=1) >= 0).all()
    np.testing.assert_array_equal(out["relapse_probability"], out["risk_365d"])
    contributions = out.filter(like="contrib__").sum(axis=1)
    np.testing.assert_allclose(out["base_value"] + contributions, out["margin"], atol=1e-5)
    assert set(out["risk_group"]) <= {"low", "intermediate", "high"}


def test_a_dict_of_columns_is_accepted_and_missing_features_are_missing_values(loaded):
    out = loaded.predict(None, {"ldh_preld": [250.0, 2500.0]})  # mlflow may pass non-frame input
    assert len(out) == 2 and out["margin"].iloc[1] != out["margin"].iloc[0]


def test_an_empty_frame_gives_an_empty_result(loaded, small_predictor):
    out = loaded.predict(None, pd.DataFrame(columns=[s.name for s in small_predictor.metadata.features]))
    assert out.empty and list(out.columns) == list(small_predictor.output_columns)
