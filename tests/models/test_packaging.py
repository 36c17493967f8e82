"""models/packaging.py and models/pyfunc_entry.py: the predictor logged as a self-contained MLflow pyfunc."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from models.packaging import (
    RUNTIME_MODULES,
    input_example,
    log_packaged_model,
    model_signature,
    runtime_code,
)
from models.predictor import SYNTHETIC_NOTICE


def test_runtime_code_copies_exactly_the_listed_modules(tmp_path):
    folders = runtime_code(tmp_path)
    assert [f.name for f in folders] == list(RUNTIME_MODULES)
    for folder in folders:
        assert sorted(p.name for p in folder.iterdir()) == sorted(RUNTIME_MODULES[folder.name])


@pytest.mark.integration
def test_the_bundled_code_imports_on_its_own_without_training_or_the_store(tmp_path):
    runtime_code(tmp_path)
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); import models.packaged, models.predictor; "
        "assert models.predictor.__file__.startswith(sys.argv[1]), models.predictor.__file__; "
        "banned = [m for m in sys.modules if m.split('.')[0] in ('training', 'synth', 'serving', 'duckdb')"
        " or m in ('features.store', 'features.frame', 'shap')]; assert not banned, banned"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_the_signature_takes_every_feature_optional_and_returns_the_output_columns(small_predictor):
    signature = model_signature(small_predictor)
    inputs = {c.name: c for c in signature.inputs.inputs}
    features = small_predictor.metadata.features
    assert list(inputs) == [s.name for s in features]
    assert all(not c.required for c in inputs.values())
    for spec in features:
        assert inputs[spec.name].type.name == ("string" if spec.type == "category" else "double")
    outputs = {c.name: c.type.name for c in signature.outputs.inputs}
    assert list(outputs) == list(small_predictor.output_columns)
    assert outputs["risk_group"] == "string" and outputs["risk_365d"] == "double"


def test_the_input_example_is_one_plausible_row(small_predictor):
    example = input_example(small_predictor)
    features = {s.name: s for s in small_predictor.metadata.features}
    assert len(example) == 1 and list(example.columns) == list(features)
    assert example.loc[0, "ldh_preld"] == 500.0  # middle of the training range (100, 900)
    assert example.loc[0, "ecog_preld"] == 0.0  # an int: the rounded low end of (0, 3)
    assert example.loc[0, "product"] == features["product"].levels[0]
    scored = small_predictor.predict_frame(example)
    assert np.isfinite(scored["margin"]).all()


@pytest.mark.slow
@pytest.mark.integration
def test_logged_model_loads_in_mlflow_and_scores_as_the_predictor(small_predictor, tmp_path, monkeypatch):
    import mlflow
    import mlflow.tracking._model_registry.utils as registry_utils
    import mlflow.tracking._tracking_service.utils as tracking_utils

    # MLflow's process-wide URIs are put back after the test
    monkeypatch.setattr(tracking_utils, "_tracking_uri", tracking_utils._tracking_uri)
    monkeypatch.setattr(registry_utils, "_registry_uri", registry_utils._registry_uri)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)  # nothing may land in the repository's ./mlruns
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    experiment = mlflow.create_experiment("packaging", artifact_location=(tmp_path / "artifacts").as_uri())
    with mlflow.start_run(experiment_id=experiment):
        info = log_packaged_model(small_predictor, tmp_path / "scratch", "cart-relapse-test")
    assert int(info.registered_model_version) == 1
    assert info.metadata["synthetic_data"] is True and info.metadata["notice"] == SYNTHETIC_NOTICE
    assert info.metadata["landmark"] == "preinfusion"
    loaded = mlflow.pyfunc.load_model("models:/cart-relapse-test/1")
    frame = input_example(small_predictor)
    frame = pd.concat([frame, frame.assign(ldh_preld=np.nan)], ignore_index=True)
    pd.testing.assert_frame_equal(
        loaded.predict(frame), small_predictor.predict_frame(frame), check_dtype=False
    )
    assert not (tmp_path / "mlruns").exists()
