"""The API contract is visible: /openapi.json lists every catalogue feature with its type, unit,
accepted units, range or levels, and the landmarks that use it."""

from __future__ import annotations

from features.catalogue import load_catalogue


def _features_schema(client) -> dict:
    document = client.get("/openapi.json").json()
    request = document["components"]["schemas"]["PredictionRequest"]["properties"]["features"]
    assert request["$ref"].endswith("/PatientFeatures") or request.get("allOf")
    return document["components"]["schemas"]["PatientFeatures"]


def test_every_feature_is_documented_with_unit_range_and_landmarks(client):
    schema = _features_schema(client)
    catalogue = load_catalogue()
    assert schema["additionalProperties"] is False
    for landmark in catalogue.landmarks:
        for spec in catalogue.feature_specs(landmark):
            field = schema["properties"][spec.name]
            assert field["x-unit"] == spec.unit and landmark in field["x-landmarks"], spec.name
            plain = field["anyOf"][0]
            if spec.type == "category":
                assert plain["enum"] == list(spec.levels)
            elif spec.range is not None and spec.type != "bool":
                assert (plain["minimum"], plain["maximum"]) == tuple(spec.range), spec.name
            if spec.biomarker:
                assert field["x-accepted-units"] == list(catalogue.biomarker(spec.biomarker).accepted_units)


def test_alternative_units_and_the_uln_are_documented_where_they_apply(client):
    schema = _features_schema(client)["properties"]
    ldh = next(v for v in schema["ldh_preld"]["anyOf"] if v.get("type") == "object")
    assert (
        set(ldh["properties"]["unit"]["enum"]) == {"U/L", "ukat/L"} and "reference_high" in ldh["properties"]
    )
    crp = next(v for v in schema["crp_preld"]["anyOf"] if v.get("type") == "object")
    assert "mg/L" in crp["properties"]["unit"]["enum"] and "reference_high" in crp["properties"]
    assert all(v.get("type") != "object" for v in schema["ecog_preld"]["anyOf"])  # no other unit, no ULN
    assert schema["deauville_day30"]["x-landmarks"] == ["day30"]
