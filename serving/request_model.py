"""The request's ``features`` object, generated from the biomarker catalogue.

Every feature of every landmark is an optional field whose JSON schema (in ``/openapi.json``) says what
a client may send: a number in the canonical unit within the catalogue's valid range, ``true``/``false``
(or 0/1) for a flag, one of the levels for a category, ``{"value": ..., "unit": ..., "reference_high":
...}`` for another accepted unit, or ``null`` for missing; with the unit, the accepted units and the
landmarks that use it as ``x-`` keywords. Validation itself stays in :class:`serving.inputs.InputSchema`
(one pass over the catalogue with the field-naming errors the API promises), so the model's fields are
typed ``Any`` and unknown keys are kept for it to report ("did you mean ...?").
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from features.catalogue import Catalogue, FeatureSpec, load_catalogue


@cache
def patient_features_model() -> type[BaseModel]:
    """``PatientFeatures``: one optional field per catalogue feature (the packaged catalogue)."""
    return build_features_model(load_catalogue())


def build_features_model(catalogue: Catalogue) -> type[BaseModel]:
    """The features model of ``catalogue`` (see the module docstring)."""
    landmarks: dict[str, list[str]] = {}
    specs: dict[str, FeatureSpec] = {}
    for landmark in catalogue.landmarks:
        for spec in catalogue.feature_specs(landmark):
            specs.setdefault(spec.name, spec)
            landmarks.setdefault(spec.name, []).append(landmark)
    fields: dict[str, Any] = {
        name: (Any, Field(default=None, json_schema_extra=field_schema(catalogue, spec, landmarks[name])))
        for name, spec in specs.items()
    }
    config = ConfigDict(
        extra="allow", protected_namespaces=(), json_schema_extra={"additionalProperties": False}
    )
    return create_model("PatientFeatures", __config__=config, __doc__=_DOC, **fields)


def features_as_mapping(features: BaseModel) -> Mapping[str, Any]:
    """The features the client sent (explicit nulls included, unknown names kept for validation)."""
    return features.model_dump(exclude_unset=True)


def field_schema(catalogue: Catalogue, spec: FeatureSpec, landmarks: list[str]) -> dict[str, Any]:
    """The JSON schema of one feature's value."""
    biomarker = catalogue.biomarker(spec.biomarker) if spec.biomarker else None
    units = list(biomarker.accepted_units) if biomarker else [spec.unit]
    uln = biomarker is not None and biomarker.default_uln is not None
    variants = [_plain(spec)]
    if spec.type in ("float", "int") and (len(units) > 1 or uln):
        variants.append(_quantity(units, uln))
    variants.append({"type": "null"})
    unit = f" Canonical unit: {spec.unit}." if spec.unit else ""
    return {
        "anyOf": variants,
        "title": spec.name,
        "description": f"{spec.description}.{unit} Used at: {', '.join(landmarks)}.",
        "x-modality": spec.modality,
        "x-source": spec.source,
        "x-unit": spec.unit,
        "x-accepted-units": units,
        "x-landmarks": landmarks,
    }


def _plain(spec: FeatureSpec) -> dict[str, Any]:
    if spec.type == "category":
        return {"type": "string", "enum": list(spec.levels or ())}
    if spec.type == "bool":
        return {"anyOf": [{"type": "boolean"}, {"type": "integer", "enum": [0, 1]}]}
    schema: dict[str, Any] = {"type": "integer" if spec.type == "int" else "number"}
    if spec.range is not None:
        schema.update(minimum=spec.range[0], maximum=spec.range[1])
    return schema


def _quantity(units: list[str], uln: bool) -> dict[str, Any]:
    properties: dict[str, Any] = {"value": {"type": "number"}, "unit": {"type": "string", "enum": units}}
    if uln:
        properties["reference_high"] = {
            "type": "number",
            "exclusiveMinimum": 0,
            "description": "the centre's upper limit of normal, in the same unit",
        }
    return {"type": "object", "properties": properties, "required": ["value"], "additionalProperties": False}


_DOC = (
    "Feature name -> value. A number in the canonical unit (within the valid range), true/false for a flag, "
    "a "
    'level for a category, or {"value": 12, "unit": "mg/L"} for an accepted alternative unit (LDH also takes '
    '"reference_high", the centre\'s ULN). null or absent means missing. Derived features (ipi, '
    "car_hematotox, ...) "
    "may be given; absent ones are computed from the given values, ones sent as null stay missing."
)
