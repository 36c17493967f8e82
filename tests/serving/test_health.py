"""Liveness, readiness (503 with a reason per landmark, never a crash) and the models listing."""

from __future__ import annotations

import time

import pytest

from serving.app import create_app
from serving.loader import LoadFailure

from .conftest import TestClient, settings


def test_ready_when_both_models_are_loaded(client):
    response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "models": {"preinfusion": {"ready": True, "version": "7"}, "day30": {"ready": True, "version": "7"}},
    }


def test_a_missing_model_is_not_ready_with_its_reason_and_live_stays_up(make_client, serving_models):
    reason = "cannot load models:/cart-relapse-day30@champion: RestException: alias champion not found"
    client = make_client(
        models={
            "preinfusion": serving_models["preinfusion"],
            "day30": LoadFailure("day30", "models:/cart-relapse-day30@champion", reason),
        }
    )
    ready = client.get("/health/ready")
    assert ready.status_code == 503
    assert ready.json()["models"]["day30"] == {"ready": False, "reason": reason}
    assert ready.json()["models"]["preinfusion"]["ready"] is True
    assert client.get("/health/live").status_code == 200
    unavailable = client.post("/v1/predict/day30", json={"features": {}})
    assert unavailable.status_code == 503 and "alias champion not found" in unavailable.json()["detail"]
    assert client.post("/v1/predict/preinfusion", json={"features": {}}).status_code == 200
    listing = {m["landmark"]: m for m in client.get("/v1/models").json()["models"]}
    assert listing["day30"]["status"] == "unavailable" and listing["day30"]["reason"] == reason
    assert listing["day30"]["features"]  # the catalogue's features are listed even without a model


def _wait_until_loaded(client: TestClient) -> dict:
    for _ in range(200):
        body = client.get("/health/ready").json()
        if all(m.get("reason") != "loading" for m in body["models"].values()):
            return body
        time.sleep(0.01)
    raise AssertionError("models never finished loading")


def test_a_crashing_loader_is_reported_not_fatal():
    def loader(_settings):
        raise ConnectionError("tracking server https://user:secret@mlflow.example down")

    with TestClient(create_app(settings(), loader=loader)) as client:
        body = _wait_until_loaded(client)
        assert client.get("/health/ready").status_code == 503
        assert client.get("/health/live").status_code == 200
        for landmark in ("preinfusion", "day30"):
            assert (
                "ConnectionError: tracking server https://***@mlflow.example down"
                in body["models"][landmark]["reason"]
            )
            assert "secret" not in body["models"][landmark]["reason"]


def test_loading_state_is_not_ready():
    def slow_loader(_settings):
        time.sleep(0.5)
        return {}

    with TestClient(create_app(settings(), loader=slow_loader)) as client:
        response = client.get("/health/ready")
        assert response.status_code == 503
        assert response.json()["models"]["preinfusion"] == {"ready": False, "reason": "loading"}
        assert client.post("/v1/predict/preinfusion", json={"features": {}}).status_code == 503
        deadline = (
            time.monotonic() + 10
        )  # let the slow load finish (and log) within this test, not during the next
        while client.app.state.reloader.in_progress and time.monotonic() < deadline:
            time.sleep(0.01)


def test_models_listing_comes_from_the_catalogue(client):
    models = {m["landmark"]: m for m in client.get("/v1/models").json()["models"]}
    assert set(models) == {"preinfusion", "day30"}
    day30 = models["day30"]
    assert (day30["name"], day30["version"], day30["alias"], day30["status"]) == (
        "cart-relapse-day30",
        "7",
        "champion",
        "ready",
    )
    assert (
        day30["metrics"] == {"cv_uno_c_365": 0.71, "cv_ibs": 0.2}
        and "SYNTHETIC" in day30["notice"]
        and day30["synthetic_data"]
    )
    features = {f["name"]: f for f in day30["features"]}
    assert features["crp_preld"]["unit"] == "mg/dL" and features["crp_preld"]["accepted_units"] == [
        "mg/dL",
        "mg/L",
    ]
    assert features["crp_preld"]["range"] == [0.0, 60.0] and features["crp_preld"]["type"] == "float"
    assert (
        features["product"]["levels"] == ["axi-cel", "tisa-cel", "liso-cel"]
        and features["product"]["type"] == "category"
    )
    assert features["deauville_day30"]["modality"] == "imaging" and features["ipi"]["source"] == "derived"
    assert "deauville_day30" not in {f["name"] for f in models["preinfusion"]["features"]}


@pytest.mark.parametrize("path", ["/docs", "/openapi.json"])
def test_docs_are_served(client, path):
    assert client.get(path).status_code == 200
