"""One prediction path: the registry's FHIR read by the CDS service gives the feature values the store's
point-in-time frame has, and the pyfunc's ``predict_frame``, ``POST /v1/predict``, the CDS card and the
clinician page give the same numbers for the same patient."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from features.frame import build_feature_frame
from features.ingest import ingest_directory
from serving.cds.cards import EXTENSION
from serving.predict import predict_patients
from synth import generate_registry
from synth.fhir import export_fhir

from .cds_factories import URL, at, synth_body
from .conftest import request_features
from .test_ui import output

LATER = datetime(2031, 1, 1, tzinfo=UTC)
"""A request time after every synthetic patient's landmarks: only the landmark cuts what is read."""


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> dict[str, Any]:
    """40 synthetic patients exported as FHIR Bundles (with the irregularities real senders produce), ingested
    into a store; the point-in-time frames of both landmarks and each patient's CDS request."""
    root: Path = tmp_path_factory.mktemp("one-path")
    export = export_fhir(
        generate_registry(40, seed=17), root / "fhir", layout="bundle", irregular=True, seed=5
    )
    assert (
        export.irregular["amended"] + export.irregular["corrected"] > 0
        and export.irregular["preliminary"] > 0
    )
    report = ingest_directory(root / "fhir", store=root / "store.duckdb")
    assert report.quarantined > 0  # the preliminary and entered-in-error versions
    bodies = dict(synth_body(json.loads(path.read_text())) for path in sorted((root / "fhir").glob("*.json")))
    frames = {
        lm: build_feature_frame(root / "store.duckdb", landmark=lm).set_index("patient_id")
        for lm in ("preinfusion", "day30")
    }
    return {"bodies": bodies, "frames": frames}


@pytest.fixture
def client(make_client):
    return at(make_client(client_host="127.0.0.1"), LATER)


def card_of(client, landmark: str, body: dict[str, Any]) -> dict[str, Any] | None:
    response = client.post(URL.format(landmark), json=body)
    assert response.status_code == 200, response.text
    cards = response.json()["cards"]
    return cards[0] if cards and "extension" in cards[0] else None


def card_features(client, card: dict[str, Any]) -> dict[str, Any]:
    return client.app.state.handoff.get(card["links"][0]["url"].rsplit("/", 1)[1]).features


@pytest.mark.parametrize("landmark", ["preinfusion", "day30"])
def test_the_cds_service_reads_the_values_the_store_frame_has(
    client, registry, serving_models, predictors, landmark
):
    frame, model = registry["frames"][landmark], serving_models[landmark]
    carded = {}
    for patient_id, body in registry["bodies"].items():
        card = card_of(client, landmark, body)
        if card is not None:
            carded[patient_id] = card
    assert (
        sorted(carded) == sorted(frame.index) and len(carded) >= 25
    )  # the same cohort: every infused patient
    expected = predictors[landmark].predict_frame(frame.reset_index())
    for i, (patient_id, row) in enumerate(frame.iterrows()):
        values = predict_patients(model, [model.schema.parse(card_features(client, carded[patient_id]))])[
            0
        ].values
        for spec in model.specs:
            stored, read = row[spec.name], values.get(spec.name)
            if stored is None or (isinstance(stored, float) and math.isnan(stored)):
                assert read is None, (patient_id, spec.name, read)
            else:
                assert read == stored, (patient_id, spec.name, read, stored)
        numbers = carded[patient_id]["extension"][EXTENSION]
        assert numbers["relapse_probability"] == expected["relapse_probability"][i]
        assert numbers["risk_curve"] == {str(h): expected[f"risk_{h}d"][i] for h in (90, 180, 365, 730)}
        assert (
            numbers["margin"] == expected["margin"][i] and numbers["risk_group"] == expected["risk_group"][i]
        )


@pytest.mark.parametrize("landmark", ["preinfusion", "day30"])
def test_pyfunc_api_cds_card_and_page_give_one_number(client, registry, predictors, landmark):
    frame = registry["frames"][landmark]
    for patient_id in frame.index[:4]:
        row = frame.loc[patient_id]
        pyfunc = predictors[landmark].predict_frame(pd.DataFrame([row]).reset_index(drop=True)).iloc[0]
        api = client.post(
            f"/v1/predict/{landmark}", json={"features": request_features(row, landmark)}
        ).json()
        card = card_of(client, landmark, registry["bodies"][patient_id])
        assert card is not None
        numbers = card["extension"][EXTENSION]
        page = client.get(card["links"][0]["url"].removeprefix("http://testserver")).text
        pasted = client.post(
            f"/ui/{landmark}", data={"features_json": json.dumps(request_features(row, landmark))}
        ).text
        for days in (90, 180, 365, 730):
            risk = pyfunc[f"risk_{days}d"]
            assert api["risk_curve"][str(days)] == numbers["risk_curve"][str(days)] == risk, (
                patient_id,
                days,
            )
            assert (
                output(page, f"risk-{days}") == output(pasted, f"risk-{days}") == (f"{100 * risk:.1f}%", risk)
            )
        assert api["relapse_probability"] == numbers["relapse_probability"] == pyfunc["relapse_probability"]
        assert api["risk_group"] == numbers["risk_group"] == pyfunc["risk_group"]
        assert f"{100 * pyfunc['relapse_probability']:.1f}%" in card["summary"]
