"""Log hygiene (no patient ids or values, route templates only), the last-resort 500, and that bad
input never reaches it."""

from __future__ import annotations

import json
import logging
import re

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.catalogue import load_catalogue
from serving.app import create_app

from .conftest import TOKEN
from .conftest import settings as app_settings
from .test_reload import _wait_for_reload
from .test_validation import BAD_FEATURES, IDS

PATIENT_ID = "PID-ZQX-774411"
SECRETS = (PATIENT_ID, "4321.987", "98.7654", "17.0303", "obe-cel-xyz", "6543.21")
ACCESS_LINE = re.compile(
    r"^request_id=[0-9a-f]{16} method=(GET|POST) route=(\S+) status=\d{3} latency_ms=\d+\.\d\d$"
)


def server_log(caplog) -> str:
    """Everything the server side logged (httpx's lines are the test client's, not the server's)."""
    return "\n".join(
        f"{r.name} {r.getMessage()} {r.exc_text or ''}"
        for r in caplog.records
        if not r.name.startswith("httpx")
    )


def _traffic(client) -> None:
    features = {
        "ldh_preld": 4321.987,
        "age": 98.7654,
        "crp_preld": {"value": 17.0303, "unit": "mg/L"},
        "tmtv_preld": 6543.21,
    }
    client.post("/v1/predict/preinfusion", json={"patient_id": PATIENT_ID, "features": features})
    client.post(
        "/v1/predict/day30/batch", json={"patients": [{"patient_id": PATIENT_ID, "features": features}]}
    )
    client.post(
        "/v1/predict/preinfusion",
        json={"patient_id": PATIENT_ID, "features": {"product": "obe-cel-xyz", "age": 98.7654}},
    )
    client.post(
        "/v1/predict/preinfusion", json={"patient_id": PATIENT_ID, "features": {"ldh_preld": "4321.987"}}
    )
    client.post(
        "/v1/predict/preinfusion", json={"patient_id": PATIENT_ID, "features": [4321.987], "x": PATIENT_ID}
    )
    client.post(f"/v1/predict/{PATIENT_ID}", json={"patient_id": PATIENT_ID, "features": {}})
    client.get(f"/v1/patients/{PATIENT_ID}?ldh=4321.987")


def test_logs_never_carry_patient_ids_or_values(make_client, caplog):
    caplog.set_level(logging.DEBUG)
    _traffic(make_client())
    _traffic(make_client(api_token=TOKEN))  # 401s
    logged = server_log(caplog)
    assert logged.count("cart_relapse.access request_id=") == 14, logged
    for secret in SECRETS:
        assert secret not in logged


def test_access_lines_carry_id_route_template_status_latency(serving_models, caplog):
    caplog.set_level(logging.INFO, logger="cart_relapse")
    # a loader that finds only one landmark's model: the start-up reload logs its refusal in the server's
    # logger, which a test (or a log shipper) reading access lines must not mistake for one
    app = create_app(app_settings(), loader=lambda _settings: {"day30": serving_models["day30"]})
    with TestClient(app, raise_server_exceptions=False, client=("127.0.0.1", 1)) as client:
        _access_traffic(client, caplog)


def _access_traffic(client, caplog) -> None:
    _wait_for_reload(client, 1)
    assert any("model reload #1 (startup): preinfusion refused" in r.getMessage() for r in caplog.records)
    caplog.clear()
    response = client.post("/v1/predict/day30", json={"patient_id": PATIENT_ID, "features": {"age": 60}})
    client.post("/v1/predict/day30", json={"features": {"age": "x"}})
    client.get("/nowhere")
    lines = [r.getMessage() for r in caplog.records if r.name == "cart_relapse.access"]
    matches = [ACCESS_LINE.match(line) for line in lines]
    assert all(matches), lines
    assert [m.group(2) for m in matches] == [
        "/v1/predict/{landmark}",
        "/v1/predict/{landmark}",
        "<unmatched>",
    ]
    assert f"request_id={response.headers['x-request-id']} " in lines[0]
    assert " status=200 " in lines[0] and " status=422 " in lines[1] and " status=404 " in lines[2]


def test_unexpected_error_is_a_bare_logged_500(make_client, caplog, monkeypatch):
    import serving.routes.predict as route

    def explode(model, patients):
        raise RuntimeError(f"cannot score {patients[0].values}")  # a message quoting the input

    monkeypatch.setattr(route, "predict_patients", explode)
    caplog.set_level(logging.INFO)
    response = make_client().post(
        "/v1/predict/preinfusion", json={"patient_id": PATIENT_ID, "features": {"ldh_preld": 4321.987}}
    )
    assert response.status_code == 500
    body = response.json()
    assert body == {"detail": "internal server error", "request_id": response.headers["x-request-id"]}
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and errors[0].getMessage().startswith(
        f"unhandled RuntimeError request_id={body['request_id']}"
    )
    assert "route=/v1/predict/{landmark}" in errors[0].getMessage()
    assert "4321.987" not in server_log(caplog)  # the message is never logged (frames show source lines only)


@pytest.mark.parametrize(("features", "loc", "kind", "text"), BAD_FEATURES, ids=IDS)
def test_known_bad_inputs_never_reach_the_500_handler(client, caplog, features, loc, kind, text):
    caplog.set_level(logging.INFO)
    single = client.post(
        "/v1/predict/preinfusion",
        content=f'{{"features": {features}}}',
        headers={"content-type": "application/json"},
    )
    batch = client.post(
        "/v1/predict/preinfusion/batch",
        content=f'{{"patients": [{{"features": {features}}}]}}',
        headers={"content-type": "application/json"},
    )
    assert (single.status_code, batch.status_code) == (422, 422)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


_NAMES = [s.name for s in load_catalogue().feature_specs("day30")]
_json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(-(10**400), 10**400)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8)
)
_values = (
    _json_scalars
    | st.lists(_json_scalars, max_size=2)
    | st.dictionaries(
        st.sampled_from(["value", "unit", "reference_high", "other"]),
        _json_scalars | st.sampled_from(["mg/L", "mg/dL", "U/L", "ukat/L", "L", ""]),
        max_size=3,
    )
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(features=st.dictionaries(st.sampled_from(_NAMES) | st.text(max_size=6), _values, max_size=6))
def test_arbitrary_json_features_never_give_a_500(client, features):
    text = json.dumps({"patient_id": "P", "features": features})  # NaN/Infinity become JSON literals
    for path in ("/v1/predict/day30", "/v1/predict/preinfusion/batch"):
        body = text if not path.endswith("batch") else f'{{"patients": [{text}]}}'
        response = client.post(path, content=body, headers={"content-type": "application/json"})
        assert response.status_code in (200, 422), response.text
