"""Drift reports against a model trained by `cart-relapse train`: the profile travels with the registered
version; resampled training data and new patients flag nothing; planted shifts are flagged on the right
feature; the CLI, `score --drift-report` and the MLflow logging write what they say."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from models.drift import FLAG_RULE
from tests.conftest import run_cli

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MODEL = "models:/cart-relapse-preinfusion@champion"


@pytest.fixture(scope="module")
def champion(cli_registry):
    """(profile, pyfunc, input columns) of the CLI-trained preinfusion champion."""
    import mlflow

    from serving.drift_job import load_profile
    from serving.model_ref import model_columns, resolve_model_ref

    mlflow.set_tracking_uri(cli_registry.tracking_uri)
    mlflow.set_registry_uri(cli_registry.tracking_uri)
    ref = resolve_model_ref(MODEL)
    return load_profile(ref), mlflow.pyfunc.load_model(ref.pinned), model_columns(ref)[0]


def drift_of(champion, frame: pd.DataFrame) -> dict:
    from models.drift import compare_to_profile
    from serving.model_ref import conform_inputs

    profile, model, inputs = champion
    scores = model.predict(conform_inputs(frame, inputs, source="test batch"))["relapse_probability"]
    return compare_to_profile(profile, frame, scores.to_numpy())


def test_profile_is_stored_with_the_registered_version(champion, cli_registry):
    profile, _, inputs = champion
    assert set(profile["features"]) == {c.name for c in inputs}
    training = pd.read_parquet(cli_registry.features)
    assert 0.7 * len(training) < profile["n_rows"] < 0.9 * len(training)  # the development patients
    assert profile["centre_column"] == "center" and 100 < len(profile["score"]["sample"]) < 0.3 * len(
        training
    )


def test_resample_of_the_training_data_flags_nothing(champion, cli_registry):
    training = pd.read_parquet(cli_registry.features)
    resample = training.iloc[np.random.default_rng(0).integers(0, len(training), len(training))]
    result = drift_of(champion, resample)
    assert result["summary"]["n_flagged"] == 0, [
        (f["name"], f["reasons"]) for f in result["features"] if f["flagged"]
    ]
    assert not result["score"]["flagged"]


def test_new_patients_from_the_same_population_flag_nothing(champion, fresh_cohort):
    result = drift_of(champion, pd.read_parquet(fresh_cohort))
    assert result["summary"]["n_flagged"] == 0, [
        (f["name"], f["reasons"]) for f in result["features"] if f["flagged"]
    ]
    assert not result["score"]["flagged"]


def test_crp_sent_in_mg_per_litre_by_any_one_centre_is_a_unit_suspect(champion, fresh_cohort):
    cohort = pd.read_parquet(fresh_cohort)
    for centre in sorted(cohort["center"].unique()):
        planted = cohort.copy()
        at_centre = planted["center"] == centre
        planted.loc[at_centre, ["crp_preld", "crp_infusion"]] *= 10  # mg/L values labelled mg/dL
        result = drift_of(champion, planted)
        assert set(result["summary"]["flagged"]) <= {"crp_preld", "crp_infusion"}, centre
        crp = next(f for f in result["features"] if f["name"] == "crp_preld")
        assert [(s["centre"], s["factor"]) for s in crp["unit_suspect"]] == [(centre, 10)], (
            centre,
            crp["unit_suspect"],
        )


def test_a_population_ten_years_older_flags_age(champion, fresh_cohort):
    result = drift_of(champion, pd.read_parquet(fresh_cohort).assign(age=lambda f: f["age"] + 10))
    assert result["summary"]["flagged"] == ["age"]
    assert result["features"][0]["name"] == "age" and result["features"][0]["psi"] > FLAG_RULE["psi_large"]


@pytest.mark.parametrize("modality", ["imaging", "ctdna"])
def test_a_modality_missing_entirely_flags_its_features(champion, fresh_cohort, modality):
    from features.catalogue import load_catalogue

    profile = champion[0]
    specs = {s.name: s for s in load_catalogue().feature_specs("preinfusion")}
    names = [n for n in profile["features"] if specs[n].modality == modality]
    assert names
    result = drift_of(champion, pd.read_parquet(fresh_cohort).assign(**dict.fromkeys(names, np.nan)))
    assert sorted(result["summary"]["flagged"]) == sorted(names)


def test_drift_cli_writes_json_and_self_contained_html(cli_registry, fresh_cohort, tmp_path):
    planted = pd.read_parquet(fresh_cohort).assign(age=lambda f: f["age"] + 10)
    planted.to_parquet(tmp_path / "batch.parquet")
    out = tmp_path / "report"
    result = run_cli(
        "drift",
        "--landmark",
        "preinfusion",
        "--input",
        str(tmp_path / "batch.parquet"),
        "--out",
        str(out),
        "--log-to-mlflow",
        env=cli_registry.env(),
    )
    assert "flagged features: age" in " ".join(result.stdout.split())
    report = json.loads((out / "drift.json").read_text())
    assert report["features"][0]["name"] == "age" and report["features"][0]["flagged"]
    assert all({"name", "psi", "p_value", "missing_change", "flagged"} <= set(f) for f in report["features"])
    assert {"psi", "p_value", "flagged"} <= set(report["score"]) and report["model"]["version"]
    page = (out / "drift.html").read_text()
    assert not re.search(r"""(src|href)=["']?https?:""", page)
    assert page.count("<img") == 1 + report["summary"]["n_flagged"]  # the score and each flagged feature
    _assert_logged(cli_registry.tracking_uri, report)


def _assert_logged(uri: str, report: dict) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    version = client.get_model_version("cart-relapse-preinfusion", report["model"]["version"])
    run = client.get_run(version.tags["drift.last_run_id"])
    assert version.tags["drift.n_flagged"] == "1" and run.data.tags["kind"] == "drift"
    assert run.data.metrics["psi.age"] == pytest.approx(report["features"][0]["psi"])
    assert {a.path for a in client.list_artifacts(run.info.run_id, "drift")} == {
        "drift/drift.json",
        "drift/drift.html",
    }


def test_score_with_drift_report_uses_the_scores_it_wrote(cli_registry, tmp_path):
    out, report_dir = tmp_path / "scores.parquet", tmp_path / "drift"
    run_cli(
        "score",
        "--store",
        str(cli_registry.store),
        "--landmark",
        "preinfusion",
        "--out",
        str(out),
        "--drift-report",
        str(report_dir),
        env=cli_registry.env(),
    )
    report = json.loads((report_dir / "drift.json").read_text())
    scores = pd.read_parquet(out)["relapse_probability"]
    assert report["n_rows"] == len(scores) and report["input"] == "feature store"
    assert report["score"]["batch_median"] == pytest.approx(float(np.median(scores)))
    assert (report_dir / "drift.html").stat().st_size > 1000


def test_a_version_without_profile_gives_a_clear_error(cli_registry, tmp_path):
    import mlflow

    from models.packaging import log_packaged_model
    from serving.drift_job import DriftError, run_drift
    from tests.serving.conftest import make_predictor

    mlflow.set_tracking_uri(cli_registry.tracking_uri)
    mlflow.set_registry_uri(cli_registry.tracking_uri)
    with mlflow.start_run(experiment_id=mlflow.get_experiment_by_name("cart-relapse").experiment_id):
        info = log_packaged_model(
            make_predictor("preinfusion"), tmp_path / "model", "cart-relapse-preinfusion-noprofile"
        )
    uri = f"models:/cart-relapse-preinfusion-noprofile/{info.registered_model_version}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", cli_registry.tracking_uri)
        with pytest.raises(DriftError, match="has no drift reference profile"):
            run_drift(
                landmark="preinfusion",
                out_dir=tmp_path / "out",
                input_path=cli_registry.features,
                model_uri=uri,
            )
    assert not (tmp_path / "out").exists()
