"""Predictions: same numbers as the pyfunc's code path, additivity, derived features, units, batches."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.catalogue import load_catalogue
from features.derived import add_derived_features
from synth.frames import random_feature_frame

from .conftest import contributions_in_model_order, request_features


@pytest.mark.parametrize("landmark", ["preinfusion", "day30"])
def test_same_numbers_as_predict_frame_the_pyfunc_runs(client, predictors, landmark):
    frame, _ = random_feature_frame(25, landmark, seed=11)
    expected = predictors[landmark].predict_frame(frame)
    patients = [
        {"patient_id": pid, "features": request_features(row, landmark)}
        for pid, (_, row) in zip(frame["patient_id"], frame.iterrows(), strict=True)
    ]
    batch = client.post(f"/v1/predict/{landmark}/batch", json={"patients": patients})
    assert batch.status_code == 200, batch.text
    for i, body in enumerate(batch.json()["predictions"]):
        assert body["patient_id"] == frame["patient_id"][i]
        assert body["relapse_probability"] == expected["relapse_probability"][i]
        assert body["risk_curve"] == {str(h): expected[f"risk_{h}d"][i] for h in (90, 180, 365, 730)}
        assert body["margin"] == expected["margin"][i]
        assert body["risk_group"] == expected["risk_group"][i]
        assert body["explanation"]["base_value"] == expected["base_value"][i]
        np.testing.assert_array_equal(
            contributions_in_model_order(body, predictors[landmark]),
            expected.filter(like="contrib__").to_numpy()[i],
        )
    single = client.post(f"/v1/predict/{landmark}", json=patients[3]).json()
    assert single["relapse_probability"] == expected["relapse_probability"][3]
    np.testing.assert_array_equal(
        contributions_in_model_order(single, predictors[landmark]),
        expected.filter(like="contrib__").to_numpy()[3],
    )


def test_contributions_add_up_to_the_margin_and_the_curve_rises(client):
    frame, _ = random_feature_frame(40, "day30", seed=12, missing=0.4)
    patients = [
        {"features": request_features(row, "day30", derived=i % 2 == 0)}
        for i, (_, row) in enumerate(frame.iterrows())
    ]
    for body in client.post("/v1/predict/day30/batch", json={"patients": patients}).json()["predictions"]:
        explanation = body["explanation"]
        total = explanation["base_value"] + sum(c["contribution"] for c in explanation["contributions"])
        assert abs(total - body["margin"]) < 1e-5 and explanation["scale"] == "log relative hazard"
        curve = [body["risk_curve"][h] for h in ("90", "180", "365", "730")]
        assert curve == sorted(curve) and body["relapse_probability"] == body["risk_curve"]["365"]
        assert abs(sum(explanation["modality_totals"].values()) - (total - explanation["base_value"])) < 1e-9


def test_response_shape_order_and_notice(client, predictors):
    frame, _ = random_feature_frame(1, "preinfusion", seed=13)
    response = client.post(
        "/v1/predict/preinfusion",
        json={"patient_id": "P-1", "features": request_features(frame.iloc[0], "preinfusion")},
    )
    body = response.json()
    assert response.status_code == 200
    assert body["model"] == {"name": "cart-relapse-preinfusion", "version": "7", "alias": "champion"}
    assert "SYNTHETIC" in body["notice"] and body["landmark"] == "preinfusion" and body["patient_id"] == "P-1"
    assert (
        body["outcome"] == "progression/relapse or death from any cause" and body["risk_horizon_days"] == 365
    )
    contributions = body["explanation"]["contributions"]
    sizes = [abs(c["contribution"]) for c in contributions]
    assert sizes == sorted(sizes, reverse=True)
    assert sorted(c["feature"] for c in contributions) == sorted(predictors["preinfusion"].feature_names)
    modality = {s.name: s.modality for s in load_catalogue().feature_specs("preinfusion")}
    assert all(c["modality"] == modality[c["feature"]] for c in contributions)
    thresholds = predictors["preinfusion"].metadata.thresholds
    p = body["relapse_probability"]
    assert body["risk_group"] == (
        "low" if p < thresholds.low else "high" if p >= thresholds.high else "intermediate"
    )


def test_absent_derived_features_are_computed_with_add_derived_features(client, predictors):
    frame, _ = random_feature_frame(20, "day30", seed=14, missing=0.1)
    derived = [s.name for s in load_catalogue().feature_specs("day30") if s.source == "derived"]
    base = frame.drop(columns=derived).assign(apheresis_date=pd.NaT, infusion_date=pd.NaT)
    expected = predictors["day30"].predict_frame(add_derived_features(base, "day30"))
    patients = [{"features": request_features(row, "day30", derived=False)} for _, row in frame.iterrows()]
    bodies = client.post("/v1/predict/day30/batch", json={"patients": patients}).json()["predictions"]
    np.testing.assert_array_equal([b["relapse_probability"] for b in bodies], expected["relapse_probability"])
    single = client.post("/v1/predict/day30", json=patients[0]).json()
    assert single["relapse_probability"] == expected["relapse_probability"][0]


def test_derived_sent_as_null_stays_missing_and_absent_is_computed(client):
    features = {
        "age": 70,
        "ldh_preld": 400,
        "ecog_preld": 2,
        "stage_apheresis": 4,
        "extranodal_sites_apheresis": 3,
    }
    computed = client.post("/v1/predict/preinfusion", json={"features": features}).json()
    assert {c["feature"]: c["value"] for c in computed["explanation"]["contributions"]}["ipi"] == 5
    assert "ipi" not in computed["missing_features"]
    nulled = client.post("/v1/predict/preinfusion", json={"features": features | {"ipi": None}}).json()
    assert "ipi" in nulled["missing_features"]
    given = client.post("/v1/predict/preinfusion", json={"features": features | {"ipi": 1}}).json()
    assert {c["feature"]: c["value"] for c in given["explanation"]["contributions"]}["ipi"] == 1


@pytest.mark.parametrize(
    ("canonical", "alternative"),
    [
        ({"crp_preld": 1.2}, {"crp_preld": {"value": 12, "unit": "mg/L"}}),
        (
            {"crp_preld": 3.0},
            {"crp_preld": {"value": 30, "unit": "mg/L"}},
        ),  # CAR-HEMATOTOX boundary (>3 mg/dL)
        ({"crp_infusion": 0.7}, {"crp_infusion": {"value": 7, "unit": "mg/L"}}),
        ({"ldh_preld": 300.0}, {"ldh_preld": {"value": 5, "unit": "ukat/L"}}),
        ({"creatinine_preld": 1.1312}, {"creatinine_preld": {"value": 100, "unit": "umol/L"}}),
        ({"tmtv_preld": 250.0}, {"tmtv_preld": {"value": 0.25, "unit": "L"}}),
    ],
)
def test_alternative_units_give_the_same_prediction(client, canonical, alternative):
    common = {
        "age": 66,
        "platelets_preld": 120,
        "ldh_preld": 500,
        "anc_preld": 2.0,
        "hemoglobin_preld": 10.5,
        "ferritin_preld": 900,
        "product": "tisa-cel",
    }
    a = client.post("/v1/predict/preinfusion", json={"features": common | canonical}).json()
    b = client.post("/v1/predict/preinfusion", json={"features": common | alternative}).json()
    assert a["relapse_probability"] == b["relapse_probability"]
    assert a["explanation"] == b["explanation"]


def test_unit_conversion_matches_the_canonical_value_reported(client):
    body = client.post(
        "/v1/predict/preinfusion", json={"features": {"crp_preld": {"value": 12, "unit": "mg/L"}}}
    ).json()
    assert {c["feature"]: c["value"] for c in body["explanation"]["contributions"]}["crp_preld"] == 1.2


def test_reference_high_feeds_the_ldh_ratio(client):
    def ratio(ldh: object) -> float:
        body = client.post("/v1/predict/preinfusion", json={"features": {"ldh_preld": ldh}}).json()
        return {c["feature"]: c["value"] for c in body["explanation"]["contributions"]}["ldh_uln_ratio"]

    assert ratio(300) == pytest.approx(300 / 250)  # catalogue default ULN
    assert ratio({"value": 300, "unit": "U/L", "reference_high": 280}) == pytest.approx(300 / 280)
    assert ratio({"value": 5, "unit": "ukat/L", "reference_high": 4}) == pytest.approx(300 / 240)


def test_missing_features_and_range_warnings(client, predictors):
    low, high = predictors["preinfusion"].metadata.training_ranges["ldh_preld"]
    body = client.post(
        "/v1/predict/preinfusion", json={"features": {"ldh_preld": high * 3, "age": 60}}
    ).json()
    assert any(w.startswith("ldh_preld =") and "outside the training data" in w for w in body["warnings"])
    assert "tmtv_preld" in body["missing_features"] and "ldh_preld" not in body["missing_features"]
    typical = client.post(
        "/v1/predict/preinfusion", json={"features": {"ldh_preld": (low + high) / 2, "age": 60}}
    ).json()
    assert not any(w.startswith("ldh_preld") for w in typical["warnings"])


def test_batch_limit_is_a_413_naming_patients(make_client):
    client = make_client(max_batch_size=3)
    ok = client.post("/v1/predict/preinfusion/batch", json={"patients": [{"features": {}}] * 3})
    assert ok.status_code == 200 and len(ok.json()["predictions"]) == 3
    response = client.post("/v1/predict/preinfusion/batch", json={"patients": [{"features": {}}] * 4})
    assert response.status_code == 413
    assert "patients" in response.json()["detail"] and "3" in response.json()["detail"]


def test_empty_batch_gives_no_predictions(client):
    response = client.post("/v1/predict/day30/batch", json={"patients": []})
    assert response.status_code == 200 and response.json()["predictions"] == []


def test_body_size_limit_is_a_413(make_client):
    client = make_client(max_body_bytes=2048)
    small = client.post("/v1/predict/preinfusion", json={"features": {"age": 60}})
    assert small.status_code == 200
    big = client.post(
        "/v1/predict/preinfusion", json={"patient_id": "x" * 100, "features": {"age": 60}, "pad": "y" * 4000}
    )
    assert big.status_code == 413
    chunked = client.post(
        "/v1/predict/preinfusion",
        content=iter([b'{"features": {"age": 60}, "pad": "', b"y" * 4000, b'"}']),
        headers={"content-type": "application/json"},
    )
    assert chunked.status_code == 413


def test_default_limits_admit_a_full_batch_of_complete_patients(client):
    from serving.settings import Settings

    limit = Settings.model_fields["max_batch_size"].default
    frame, _ = random_feature_frame(limit, "day30", seed=15, missing=0.0)
    patients = [
        {"patient_id": f"P{i:06d}", "features": request_features(row, "day30")}
        for i, (_, row) in enumerate(frame.iterrows())
    ]
    response = client.post("/v1/predict/day30/batch", json={"patients": patients})
    assert response.status_code == 200
    assert [p["patient_id"] for p in response.json()["predictions"]] == [p["patient_id"] for p in patients]


def test_responses_match_the_documented_schemas(client):
    from serving.schemas import BatchPredictionResponse, PredictionResponse

    frame, _ = random_feature_frame(3, "day30", seed=16)
    patients = [
        {"patient_id": f"P{i}", "features": request_features(row, "day30", derived=i != 1)}
        for i, (_, row) in enumerate(frame.iterrows())
    ]
    single = client.post("/v1/predict/day30", json=patients[0]).json()
    assert PredictionResponse.model_validate(single).model_dump(mode="json") == single
    batch = client.post("/v1/predict/day30/batch", json={"patients": patients}).json()
    assert BatchPredictionResponse.model_validate(batch).model_dump(mode="json") == batch
