"""Against a real (temporary, sqlite) MLflow registry: loading the champions, parity with
``mlflow.pyfunc``, readiness with a missing or broken model, and the ``score``/``serve`` commands."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cart_relapse.process import free_port
from features.frame import write_frame
from serving.app import create_app
from serving.loader import LoadFailure, load_registry_models
from serving.model import ServingModel
from synth.frames import random_feature_frame

from .conftest import TestClient, contributions_in_model_order, request_features, settings

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def _wait_ready(client: TestClient) -> httpx.Response:
    for _ in range(600):
        response = client.get("/health/ready")
        if all(m.get("reason") != "loading" for m in response.json()["models"].values()):
            return response
        time.sleep(0.05)
    raise AssertionError("models never finished loading")


def test_champions_load_from_the_registry(mlflow_registry):
    slots = load_registry_models(settings(mlflow_tracking_uri=mlflow_registry["uri"]))
    for landmark, version in mlflow_registry["versions"].items():
        model = slots[landmark]
        assert isinstance(model, ServingModel)
        assert (model.name, model.version, model.alias) == (f"cart-relapse-{landmark}", version, "champion")


@pytest.mark.parametrize("landmark", ["preinfusion", "day30"])
def test_api_and_pyfunc_give_identical_numbers(mlflow_registry, predictors, landmark):
    import mlflow

    frame, _ = random_feature_frame(30, landmark, seed=31)
    features = [c for c in frame.columns if c not in ("patient_id", "center")]
    pyfunc = mlflow.pyfunc.load_model(f"models:/cart-relapse-{landmark}@champion").predict(frame[features])
    with TestClient(create_app(settings(mlflow_tracking_uri=mlflow_registry["uri"]))) as client:
        assert _wait_ready(client).status_code == 200
        patients = [{"features": request_features(row, landmark)} for _, row in frame.iterrows()]
        bodies = client.post(f"/v1/predict/{landmark}/batch", json={"patients": patients}).json()[
            "predictions"
        ]
        single = client.post(f"/v1/predict/{landmark}", json=patients[0]).json()
    np.testing.assert_array_equal([b["relapse_probability"] for b in bodies], pyfunc["relapse_probability"])
    np.testing.assert_array_equal([b["explanation"]["base_value"] for b in bodies], pyfunc["base_value"])
    api_contributions = np.array([contributions_in_model_order(b, predictors[landmark]) for b in bodies])
    np.testing.assert_array_equal(api_contributions, pyfunc.filter(like="contrib__").to_numpy())
    assert single["relapse_probability"] == pyfunc["relapse_probability"][0]
    assert single["model"]["version"] == mlflow_registry["versions"][landmark]


def test_missing_alias_and_broken_uri_are_not_ready_with_reasons(mlflow_registry):
    config = settings(
        mlflow_tracking_uri=mlflow_registry["uri"],
        model_alias="ghost",
        model_uris={"day30": "runs:/0123456789abcdef/model"},
    )
    with TestClient(create_app(config)) as client:
        ready = _wait_ready(client)
        assert ready.status_code == 503
        reasons = {lm: m["reason"] for lm, m in ready.json()["models"].items()}
        assert (
            "models:/cart-relapse-preinfusion@ghost" in reasons["preinfusion"]
            and "ghost" in reasons["preinfusion"]
        )
        assert "runs:/0123456789abcdef/model" in reasons["day30"]
        assert client.get("/health/live").status_code == 200
        assert client.post("/v1/predict/day30", json={"features": {}}).status_code == 503


def test_a_model_for_the_other_landmark_is_refused(mlflow_registry):
    slots = load_registry_models(
        settings(
            mlflow_tracking_uri=mlflow_registry["uri"],
            model_uris={"day30": "models:/cart-relapse-preinfusion@champion"},
        )
    )
    assert (
        isinstance(slots["day30"], LoadFailure)
        and "'preinfusion' landmark, not 'day30'" in slots["day30"].reason
    )


def test_score_command_writes_the_pyfunc_numbers(mlflow_registry, tmp_path, monkeypatch):
    import mlflow

    from cart_relapse.cli import app

    frame, _ = random_feature_frame(1_200, "day30", seed=32)
    source, out = tmp_path / "features.parquet", tmp_path / "scores.parquet"
    write_frame(frame, source)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_registry["uri"])
    result = CliRunner().invoke(
        app,
        ["score", "--input", str(source), "--landmark", "day30", "--out", str(out), "--chunk-rows", "500"],
    )
    assert result.exit_code == 0, result.output
    assert "1,200 patients scored with cart-relapse-day30 v" in result.output
    scored = pd.read_parquet(out)
    features = [c for c in frame.columns if c not in ("patient_id", "center")]
    expected = mlflow.pyfunc.load_model("models:/cart-relapse-day30@champion").predict(frame[features])
    for column in (
        "risk_90d",
        "risk_180d",
        "risk_365d",
        "risk_730d",
        "relapse_probability",
        "margin",
        "base_value",
    ):
        np.testing.assert_array_equal(scored[column], expected[column])
    assert list(scored.columns[:15]) == [
        "patient_id",
        "risk_90d",
        "risk_180d",
        "risk_365d",
        "risk_730d",
        "relapse_probability",
        "risk_group",
        "margin",
        "base_value",
        "top1_feature",
        "top1_contribution",
        "top2_feature",
        "top2_contribution",
        "top3_feature",
        "top3_contribution",
    ]
    missing = CliRunner().invoke(
        app,
        [
            "score",
            "--input",
            str(source),
            "--landmark",
            "day30",
            "--out",
            str(out),
            "--model-uri",
            "models:/cart-relapse-day30@ghost",
        ],
    )
    assert missing.exit_code == 1 and "ghost" in missing.output
    assert len(pd.read_parquet(out)) == 1_200


@pytest.mark.slow
def test_serve_command_runs_uvicorn_and_answers(mlflow_registry):
    port = free_port()
    env = {**os.environ, "MLFLOW_TRACKING_URI": mlflow_registry["uri"], "CART_RELAPSE_API_TOKEN": ""}
    process = subprocess.Popen(
        [sys.executable, "-m", "cart_relapse.cli", "serve", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        ready = _poll(f"http://127.0.0.1:{port}/health/ready")
        assert ready.status_code == 200, ready.text
        response = httpx.post(
            f"http://127.0.0.1:{port}/v1/predict/day30",
            json={"patient_id": "PID-SERVE-1", "features": {"age": 61}},
        )
        assert response.status_code == 200 and response.headers["x-request-id"]
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0]
    assert "route=/v1/predict/{landmark} status=200" in output and "PID-SERVE-1" not in output


def _poll(url: str) -> httpx.Response:
    for _ in range(600):
        try:
            response = httpx.get(url, timeout=1.0)
            if response.status_code == 200 or "loading" not in response.text:
                return response
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} never answered")
