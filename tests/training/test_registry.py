"""Registered pyfunc models: aliases, load-by-alias parity in a fresh process, the gate end to end,
and the frame written by `cart-relapse features` feeding the model as it is."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx
import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from serving.process import free_port, venv_env, wait_ready

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FRESH_PROCESS = """
import sys, mlflow, pandas as pd
mlflow.set_tracking_uri(sys.argv[1])
model = mlflow.pyfunc.load_model("models:/cart-relapse-preinfusion@champion")
model.predict(pd.read_parquet(sys.argv[2])).to_parquet(sys.argv[3])
"""


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cart_relapse.cli", *args], capture_output=True, text=True, env=env, check=True)


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
        assert int(run.data.tags["n_excluded_censored"]) > 0
        artifacts = {a.path for a in client.list_artifacts(champion.run_id)}
        assert {"roc.png", "calibration.png", "shap_beeswarm.png", "decision_curve.png", "ablation.csv", "model_card.md"} <= artifacts
        children = client.search_runs([run.info.experiment_id], f"tags.mlflow.parentRunId = '{run.info.run_id}'")
        assert {c.data.tags["candidate"] for c in children} >= {"xgboost", "logistic", "score:ipi", "score:car_hematotox", "score:m_easix"}


def test_features_parquet_feeds_the_registered_model_in_a_fresh_process(trained, tmp_path):
    store, uri, outcomes = trained
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    frame_path, out_path = tmp_path / "features.parquet", tmp_path / "pred.parquet"
    _cli("features", "--store", str(store), "--landmark", "preinfusion", "--out", str(frame_path), env=env)
    subprocess.run([sys.executable, "-c", FRESH_PROCESS, uri, str(frame_path), str(out_path)], check=True, env=env,
                   capture_output=True)
    fresh = pd.read_parquet(out_path)
    predictor = outcomes[0].result.predictor
    here = predictor.predict_frame(pd.read_parquet(frame_path))
    np.testing.assert_allclose(fresh["relapse_probability"], here["relapse_probability"], rtol=0, atol=1e-12)
    contrib = fresh.filter(like="contrib__").to_numpy()
    p = fresh["relapse_probability"].to_numpy()
    np.testing.assert_allclose(fresh["base_value"] + contrib.sum(axis=1), np.log(p / (1 - p)), atol=1e-5)
    assert set(fresh["risk_group"]) == {"low", "intermediate", "high"}


def test_gate_keeps_champion_when_not_better_and_promote_forces(trained):
    import mlflow

    from training.job import run_training

    store, uri, _ = trained
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    before = client.get_model_version_by_alias("cart-relapse-day30", "champion").version
    again = run_training(store, ["day30"], n_configs=2, console=Console(quiet=True))[0].registration
    assert not again.gate.promote and "not higher" in again.gate.reasons[0]  # same data, same seed: equal AUROC
    assert client.get_model_version_by_alias("cart-relapse-day30", "champion").version == before
    assert str(client.get_model_version_by_alias("cart-relapse-day30", "challenger").version) == again.version
    tags = client.get_run(again.run_id).data.tags
    assert tags["gate.promote"] == "False" and "AUROC" in tags["gate.reasons"]
    forced = run_training(store, ["day30"], n_configs=2, promote=True, console=Console(quiet=True))[0].registration
    assert forced.gate.reasons == ["forced by --promote"]
    assert str(client.get_model_version_by_alias("cart-relapse-day30", "champion").version) == forced.version


def test_mlflow_models_serve_serves_the_champion(trained, tmp_path):
    store, uri, outcomes = trained
    port = free_port()
    mlflow_bin = os.path.join(os.path.dirname(sys.executable), "mlflow")
    server = subprocess.Popen([mlflow_bin, "models", "serve", "--env-manager", "local", "-m", "models:/cart-relapse-day30@champion",
                               "--host", "127.0.0.1", "--port", str(port)], env=venv_env({"MLFLOW_TRACKING_URI": uri}),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(f"http://127.0.0.1:{port}/ping", server, timeout=90)
        frame = outcomes[1].result.data.frame.head(3)
        predictor = outcomes[1].result.predictor
        columns = list(predictor.feature_names)
        payload = {"dataframe_split": json.loads(frame[columns].to_json(orient="split", index=False))}
        response = httpx.post(f"http://127.0.0.1:{port}/invocations", json=payload, timeout=30)
        assert response.status_code == 200, response.text
        served = pd.DataFrame(response.json()["predictions"])
        np.testing.assert_allclose(served["relapse_probability"], predictor.predict_frame(frame)["relapse_probability"], atol=1e-9)
    finally:
        server.terminate()
        server.wait(10)
