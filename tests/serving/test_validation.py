"""Every kind of bad input gets a 422 (404 for the landmark) naming the field and the reason."""

from __future__ import annotations

import json

import pytest

F = ("body", "features")

BAD_FEATURES = [
    # (features JSON text, expected loc, expected type, text the message must contain)
    ('{"agee": 64}', (*F, "agee"), "unknown_feature", "did you mean 'age'"),
    (
        '{"deauville_day30": 3}',
        (*F, "deauville_day30"),
        "unknown_feature",
        "not known at the preinfusion landmark",
    ),
    ('{"age": "64"}', (*F, "age"), "float_type", "expected a number"),
    ('{"age": true}', (*F, "age"), "float_type", "expected a number"),
    ('{"age": [64]}', (*F, "age"), "float_type", "expected a number"),
    ('{"product": 3}', (*F, "product"), "string_type", "axi-cel"),
    (
        '{"primary_refractory_apheresis": "yes"}',
        (*F, "primary_refractory_apheresis"),
        "bool_type",
        "true/false",
    ),
    ('{"primary_refractory_apheresis": 2}', (*F, "primary_refractory_apheresis"), "bool_type", "true/false"),
    ('{"ecog_preld": 1.5}', (*F, "ecog_preld"), "int_from_float", "integer"),
    ('{"ecog_preld": 7}', (*F, "ecog_preld"), "out_of_range", "[0, 4]"),
    ('{"age": 150}', (*F, "age"), "out_of_range", "[18, 100]"),
    ('{"crp_preld": -1}', (*F, "crp_preld"), "out_of_range", "[0, 60] mg/dL"),
    ('{"crp_preld": {"value": 700, "unit": "mg/L"}}', (*F, "crp_preld", "value"), "out_of_range", "700 mg/L"),
    ('{"ipi": 9}', (*F, "ipi"), "out_of_range", "[0, 5]"),
    ('{"crp_preld": {"value": 12, "unit": "mg/dl"}}', (*F, "crp_preld", "unit"), "unknown_unit", "mg/L"),
    (
        '{"ecog_preld": {"value": 1, "unit": "mg"}}',
        (*F, "ecog_preld", "unit"),
        "unknown_unit",
        "unknown unit 'mg'",
    ),
    ('{"crp_preld": {"value": 12, "unit": 5}}', (*F, "crp_preld", "unit"), "string_type", "unit"),
    ('{"ldh_preld": NaN}', (*F, "ldh_preld"), "finite_number", "NaN and infinity"),
    ('{"ldh_preld": Infinity}', (*F, "ldh_preld"), "finite_number", "NaN and infinity"),
    ('{"tmtv_preld": -Infinity}', (*F, "tmtv_preld"), "finite_number", "NaN and infinity"),
    ('{"age": 1%s}' % ("0" * 400), (*F, "age"), "finite_number", "too large"),
    ('{"ldh_uln_ratio": 1e39}', (*F, "ldh_uln_ratio"), "finite_number", "too large"),
    (
        '{"crp_preld": {"value": 1%s, "unit": "mg/L"}}' % ("0" * 400),
        (*F, "crp_preld", "value"),
        "finite_number",
        "too large",
    ),
    ('{"ecog_preld": 1%s}' % ("0" * 400), (*F, "ecog_preld"), "finite_number", "too large"),
    ('{"crp_preld": {"value": NaN, "unit": "mg/L"}}', (*F, "crp_preld", "value"), "finite_number", "NaN"),
    (
        '{"ldh_preld": {"value": 300, "reference_high": Infinity}}',
        (*F, "ldh_preld", "reference_high"),
        "finite_number",
        "NaN",
    ),
    (
        '{"ldh_preld": {"value": 300, "reference_high": 0}}',
        (*F, "ldh_preld", "reference_high"),
        "greater_than",
        "greater than 0",
    ),
    (
        '{"albumin_preld": {"value": 4, "reference_high": 5}}',
        (*F, "albumin_preld", "reference_high"),
        "extra_forbidden",
        "not used",
    ),
    ('{"product": "obe-cel"}', (*F, "product"), "unknown_level", "obe-cel"),
    ('{"sex": "f"}', (*F, "sex"), "unknown_level", "['F', 'M']"),
    ('{"crp_preld": {"value": 1, "units": "mg/L"}}', (*F, "crp_preld", "units"), "extra_forbidden", "units"),
    ('{"crp_preld": {"unit": "mg/L"}}', (*F, "crp_preld", "value"), "missing", "value"),
]


def post_raw(client, text: str, landmark: str = "preinfusion"):
    return client.post(f"/v1/predict/{landmark}", content=text, headers={"content-type": "application/json"})


IDS = [c[0][:60] for c in BAD_FEATURES]


@pytest.mark.parametrize(("features", "loc", "kind", "text"), BAD_FEATURES, ids=IDS)
def test_bad_feature_is_a_422_naming_the_field(client, features, loc, kind, text):
    response = post_raw(client, f'{{"patient_id": "P1", "features": {features}}}')
    assert response.status_code == 422, response.text
    [issue] = response.json()["detail"]
    assert tuple(issue["loc"]) == loc
    assert issue["type"] == kind
    assert text in issue["msg"] and len(issue["msg"]) < 200


@pytest.mark.parametrize(("features", "loc", "kind", "text"), BAD_FEATURES[:6], ids=IDS[:6])
def test_batch_errors_name_the_patient_index(client, features, loc, kind, text):
    body = f'{{"patients": [{{"features": {{"age": 60}}}}, {{"patient_id": "B", "features": {features}}}]}}'
    response = post_raw(client, body, "preinfusion/batch")
    assert response.status_code == 422
    [issue] = response.json()["detail"]
    assert tuple(issue["loc"]) == ("body", "patients", 1, *loc[1:])
    assert issue["type"] == kind


def test_every_bad_field_is_reported_at_once(client):
    response = client.post(
        "/v1/predict/preinfusion", json={"features": {"agee": 1, "ecog_preld": 9, "product": "x", "age": 60}}
    )
    assert response.status_code == 422
    assert {tuple(i["loc"])[-1] for i in response.json()["detail"]} == {"agee", "ecog_preld", "product"}


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ('{"features": [1, 2]}', ("body", "features")),
        ('{"features": {}, "extra": 1}', ("body", "extra")),
        ('{"patient_id": 12, "features": {}}', ("body", "patient_id")),
        ('{"patient_id": "%s", "features": {}}' % ("x" * 200), ("body", "patient_id")),
        ('{"patient_id": "P1"}', ("body", "features")),
    ],
)
def test_malformed_body_is_a_422_naming_the_field(client, body, loc):
    response = post_raw(client, body)
    assert response.status_code == 422
    assert tuple(response.json()["detail"][0]["loc"]) == loc


def test_invalid_json_is_a_422_with_its_position(client):
    response = post_raw(client, '{"features": {"age": 60}')
    assert response.status_code == 422
    [issue] = response.json()["detail"]
    assert issue["type"] == "json_invalid" and issue["loc"] == ["body", 24]


def test_422_does_not_echo_the_input(client):
    response = post_raw(client, '{"features": [4321.987], "extra": "SECRET-VALUE"}')
    assert response.status_code == 422
    assert "4321.987" not in response.text and "SECRET-VALUE" not in response.text


def test_unknown_landmark_is_a_404_naming_it(client):
    for path in ("/v1/predict/day60", "/v1/predict/day60/batch"):
        body = {"features": {}} if not path.endswith("batch") else {"patients": []}
        response = client.post(path, json=body)
        assert response.status_code == 404
        assert "day60" in response.json()["detail"] and "preinfusion" in response.json()["detail"]


def test_valid_edge_values_are_accepted(client):
    features = {
        "ecog_preld": 4,
        "age": 18.0,
        "crp_preld": {"value": 600, "unit": "mg/L"},
        "ldh_preld": {"value": 5, "unit": "ukat/L"},
        "primary_refractory_apheresis": 1,
        "product": None,
        "tmtv_preld": {"value": None, "unit": "L"},
        "ipi": 5,
    }
    response = client.post("/v1/predict/preinfusion", json={"features": features})
    assert response.status_code == 200, response.text
    values = {c["feature"]: c["value"] for c in response.json()["explanation"]["contributions"]}
    assert values["crp_preld"] == 60.0 and values["ldh_preld"] == 300.0
    assert values["primary_refractory_apheresis"] is True and values["ecog_preld"] == 4
    assert values["product"] is None and values["tmtv_preld"] is None


def test_long_values_are_quoted_short(client):
    response = client.post(
        "/v1/predict/preinfusion", json={"features": {"product": "z" * 5000, "sex": "q" * 5000}}
    )
    assert response.status_code == 422 and len(response.text) < 1000


def test_an_integer_too_long_to_parse_is_a_client_error(client):
    response = post_raw(client, '{"features": {"age": 1%s}}' % ("0" * 5000))
    assert response.status_code == 400  # FastAPI's own answer when Python's JSON parser refuses the number


def test_json_nan_literal_is_parsed_then_rejected_not_crashing(client):
    response = post_raw(client, json.dumps({"features": {"ldh_preld": float("nan")}}))
    assert response.status_code == 422
