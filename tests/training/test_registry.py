"""Registered pyfunc models: aliases, load-by-alias parity in a fresh process, the gate end to end,
and the frame written by `cart-relapse features` feeding the model as it is."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from cart_relapse.process import free_port, venv_env, wait_ready

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FRESH_PROCESS = """
import sys, mlflow, pandas as pd
mlflow.set_tracking_uri(sys.argv[1])
model = mlflow.pyfunc.load_model("models:/cart-relapse-preinfusion@champion")
model.predict(pd.read_parquet(sys.argv[2])).to_parquet(sys.argv[3])
"""


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cart_relapse.cli", *args], capture_output=True, text=True, env=env, check=True
    )


def test_both_landmarks_registered_with_aliases(trained):
    import mlflow

    _, uri, outcomes = trained
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    for outcome in outcomes:
        name = outcome.registration.name
        champion = client.get_model_version_by_alias(name, "champion")
        challenger = client.get_model_version_by_alias(name, "challenger")
        assert str(champion.version) == str(challenger.version) == outcome.registration.version
        run = client.get_run(champion.run_id)
        assert run.data.tags["synthetic_data"] == "true" and run.data.tags["git_commit"]
        assert int(run.data.tags["n_censored"]) > 0  # censored patients are kept, not excluded
        assert client.get_model_version(name, champion.version).tags["model_format"] == "2"
        artifacts = {a.path for a in client.list_artifacts(champion.run_id)}
        assert {
            "calibration.png",
            "shap_beeswarm.png",
            "decision_curve.png",
            "cumulative_incidence.png",
            "ablation.csv",
            "paired_comparisons.csv",
            "net_benefit.csv",
            "risk_groups.csv",
            "loco_centres.csv",
            "model_card.md",
            "sample_size.json",
        } <= artifacts
        children = client.search_runs(
            [run.info.experiment_id], f"tags.mlflow.parentRunId = '{run.info.run_id}'"
        )
        expected = {
            "xgboost",
            "linear_cox",
            "ipcw_classifier",
            "score:ipi",
            "score:car_hematotox",
            "score:m_easix",
        }
        assert {c.data.tags["candidate"] for c in children} >= expected
        card = client.download_artifacts(champion.run_id, "model_card.md")
        text = Path(card).read_text()
        for item in (
            "TRIPOD+AI 1",
            "(10)",
            "(12a-12g)",
            "(15)",
            "(20a, 20b, 20c)",
            "(22)",
            "(23a)",
            "(23b)",
            "(27a)",
        ):
            assert item in text, item
        assert "SYNTHETIC" in text and "progression/relapse or death" in text


def test_features_parquet_feeds_the_registered_model_in_a_fresh_process(trained, tmp_path):
    store, uri, outcomes = trained
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    frame_path, out_path = tmp_path / "features.parquet", tmp_path / "pred.parquet"
    _cli("features", "--store", str(store), "--landmark", "preinfusion", "--out", str(frame_path), env=env)
    subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS, uri, str(frame_path), str(out_path)],
        check=True,
        env=env,
        capture_output=True,
    )
    fresh = pd.read_parquet(out_path)
    predictor = outcomes[0].result.predictor
    here = predictor.predict_frame(pd.read_parquet(frame_path))
    assert list(fresh.columns) == list(here.columns)
    numeric = [c for c in here.columns if c != "risk_group"]
    np.testing.assert_allclose(fresh[numeric], here[numeric], rtol=0, atol=1e-12)
    contrib = fresh.filter(like="contrib__").to_numpy()
    np.testing.assert_allclose(fresh["base_value"] + contrib.sum(axis=1), fresh["margin"], atol=1e-5)
    np.testing.assert_array_equal(fresh["relapse_probability"], fresh["risk_365d"])
    risks = fresh[["risk_90d", "risk_180d", "risk_365d", "risk_730d"]].to_numpy()
    assert ((risks >= 0) & (risks <= 1)).all() and (np.diff(risks, axis=1) >= 0).all()
    assert set(fresh["risk_group"]) <= {"low", "intermediate", "high"}


def test_gate_keeps_champion_when_not_better_and_promote_forces(trained):
    import mlflow

    from training.job import run_training

    store, uri, _ = trained
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    before = client.get_model_version_by_alias("cart-relapse-day30", "champion").version
    again = run_training(store, ["day30"], n_configs=2, console=Console(quiet=True))[0].registration
    assert (
        not again.gate.promote and "lower bound not above zero" in again.gate.summary()
    )  # same data and seed: no gain
    assert "+0.0000" in again.gate.reasons[0]
    assert client.get_model_version_by_alias("cart-relapse-day30", "champion").version == before
    assert str(client.get_model_version_by_alias("cart-relapse-day30", "challenger").version) == again.version
    tags = client.get_run(again.run_id).data.tags
    assert tags["gate.promote"] == "False" and "Uno's C" in tags["gate.reasons"]
    forced = run_training(store, ["day30"], n_configs=2, promote=True, console=Console(quiet=True))[
        0
    ].registration
    assert forced.gate.reasons[-1] == "forced by --promote"
    assert str(client.get_model_version_by_alias("cart-relapse-day30", "champion").version) == forced.version


def test_mlflow_models_serve_serves_the_champion(trained, tmp_path):
    _, uri, outcomes = trained
    port = free_port()
    mlflow_bin = os.path.join(os.path.dirname(sys.executable), "mlflow")
    server = subprocess.Popen(
        [
            mlflow_bin,
            "models",
            "serve",
            "--env-manager",
            "local",
            "-m",
            "models:/cart-relapse-day30@champion",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=venv_env({"MLFLOW_TRACKING_URI": uri}),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}/ping", server, timeout=90)
        frame = outcomes[1].result.data.frame.head(3)
        predictor = outcomes[1].result.predictor
        columns = list(predictor.feature_names)
        payload = {"dataframe_split": json.loads(frame[columns].to_json(orient="split", index=False))}
        response = httpx.post(f"http://127.0.0.1:{port}/invocations", json=payload, timeout=30)
        assert response.status_code == 200, response.text
        served = pd.DataFrame(response.json()["predictions"])
        here = predictor.predict_frame(frame)
        for column in ("risk_90d", "risk_365d", "risk_730d", "relapse_probability", "margin"):
            np.testing.assert_allclose(served[column], here[column], atol=1e-9)
    finally:
        server.terminate()
        server.wait(10)


def test_a_registry_error_fails_the_job_and_registers_nothing(trained, monkeypatch):
    import mlflow
    from mlflow.exceptions import MlflowException

    from training.dataset import TrainingError
    from training.register import log_and_register

    _, uri, outcomes = trained
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    versions = len(client.search_model_versions("name = 'cart-relapse-day30'"))

    def broken(self, name):
        raise MlflowException("database is locked", error_code="INTERNAL_ERROR")

    monkeypatch.setattr(mlflow.MlflowClient, "get_registered_model", broken)
    with pytest.raises(
        TrainingError, match=r"cannot read the model registry.*database is locked.*nothing was registered"
    ):
        log_and_register(outcomes[1].result, tags={})
    monkeypatch.undo()
    assert len(client.search_model_versions("name = 'cart-relapse-day30'")) == versions


def test_a_champion_that_cannot_be_scored_fails_the_job(trained, monkeypatch):
    import mlflow

    from training import register
    from training.dataset import TrainingError

    _, uri, outcomes = trained
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    versions = len(client.search_model_versions("name = 'cart-relapse-day30'"))

    def unloadable(uri: str, frame):
        raise OSError("artifact not found")

    monkeypatch.setattr(register, "_champion_risk", unloadable)
    with pytest.raises(TrainingError, match=r"cannot score the current champion.*artifact not found"):
        register.log_and_register(outcomes[1].result, tags={})
    assert len(client.search_model_versions("name = 'cart-relapse-day30'")) == versions
