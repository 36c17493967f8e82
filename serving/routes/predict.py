"""``POST /v1/predict/{landmark}`` (one patient) and ``/v1/predict/{landmark}/batch`` (several)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from models.predictor import SYNTHETIC_NOTICE

from ..deps import ModelDep, SettingsDep
from ..errors import UNAUTHORIZED, batch_too_large
from ..inputs import InputError, InputIssue, PatientValues
from ..model import ServingModel
from ..predict import PatientPrediction, predict_patients
from ..request_model import features_as_mapping
from ..schemas import (
    BatchPredictionRequest,
    BatchPredictionResponse,
    ErrorResponse,
    PredictionRequest,
    PredictionResponse,
    ValidationErrorResponse,
)

router = APIRouter(prefix="/v1/predict", tags=["predict"], responses=UNAUTHORIZED)
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "the body cannot be decoded (e.g. not UTF-8)"},
    404: {"model": ErrorResponse, "description": "unknown landmark"},
    413: {
        "model": ErrorResponse,
        "description": "body larger than max_body_bytes, or more than max_batch_size patients",
    },
    422: {"model": ValidationErrorResponse, "description": "malformed JSON or invalid fields, each named"},
    503: {"model": ErrorResponse, "description": "the landmark's model is loading or could not be loaded"},
}


@router.post("/{landmark}", response_model=PredictionResponse, responses=_ERRORS)
async def predict(landmark: str, request: PredictionRequest, model: ModelDep) -> Response:
    """Risk of progression/relapse or death at 90, 180, 365 and 730 days after the landmark, risk group,
    and the TreeSHAP explanation of the log relative hazard, for one patient.
    """  # noqa: D205 -- the OpenAPI description; docs/reference/ is generated from it
    patient = model.schema.parse(features_as_mapping(request.features))
    prediction = predict_patients(model, [patient])[0]
    return _json(prediction_response(model, prediction, request.patient_id))


@router.post("/{landmark}/batch", response_model=BatchPredictionResponse, responses=_ERRORS)
async def predict_batch(
    landmark: str, request: BatchPredictionRequest, model: ModelDep, settings: SettingsDep
) -> Response:
    """The same for several patients (each may carry a ``patient_id``); all or nothing on bad input."""
    if len(request.patients) > settings.max_batch_size:
        raise batch_too_large(len(request.patients), settings.max_batch_size)
    return await run_in_threadpool(
        _batch, model, request.patients
    )  # keeps the event loop free for other requests


def _batch(model: ServingModel, requests: Sequence[PredictionRequest]) -> Response:
    predictions = predict_patients(model, parse_patients(model, requests))
    return _json(
        {
            "predictions": [
                prediction_response(model, p, r.patient_id)
                for p, r in zip(predictions, requests, strict=True)
            ],
            "notice": model.predictor.metadata.notice,
        }
    )


def parse_patients(model: ServingModel, requests: Sequence[PredictionRequest]) -> list[PatientValues]:
    """Validate every patient; one 422 listing the bad fields of all of them."""
    patients: list[PatientValues] = []
    issues: list[InputIssue] = []
    for i, item in enumerate(requests):
        try:
            patients.append(
                model.schema.parse(
                    features_as_mapping(item.features), loc=("body", "patients", i, "features")
                )
            )
        except InputError as exc:
            issues.extend(exc.issues)
    if issues:
        raise InputError(issues)
    return patients


def prediction_response(
    model: ServingModel, prediction: PatientPrediction, patient_id: str | None
) -> dict[str, Any]:
    """One ``PredictionResponse`` as plain data.

    Built without pydantic: this is the hot path; the tests validate it against the schema. Contributions
    sorted by absolute size, modality totals.
    """
    ranked = sorted(
        ((spec, float(c)) for spec, c in zip(model.specs, prediction.contributions, strict=True)),
        key=lambda item: -abs(item[1]),
    )
    totals: dict[str, float] = {}
    for spec, c in ranked:
        totals[spec.modality] = totals.get(spec.modality, 0.0) + c
    contributions = [
        {
            "feature": spec.name,
            "value": _shown(spec.type, prediction.values.get(spec.name)),
            "contribution": c,
            "modality": spec.modality,
        }
        for spec, c in ranked
    ]
    meta = model.predictor.metadata
    return {
        "patient_id": patient_id,
        "landmark": model.landmark,
        "outcome": meta.outcome,
        "relapse_probability": prediction.relapse_probability,
        "risk_horizon_days": meta.thresholds.horizon_days,
        "risk_curve": {str(days): risk for days, risk in prediction.risk_curve.items()},
        "risk_group": prediction.risk_group,
        "margin": prediction.margin,
        "model": {"name": model.name, "version": model.version, "alias": model.alias},
        "explanation": {
            "scale": meta.margin_scale,
            "base_value": prediction.base_value,
            "contributions": contributions,
            "modality_totals": totals,
        },
        "missing_features": prediction.missing_features,
        "warnings": prediction.warnings,
        "notice": model.predictor.metadata.notice or SYNTHETIC_NOTICE,
    }


def _shown(value_type: str, value: float | str | None) -> float | int | bool | str | None:
    """The value as its catalogue type shows it: true/false for bool, whole numbers for int."""
    if value is None or isinstance(value, str):
        return value
    if value_type == "bool":
        return bool(value)
    return int(value) if value_type == "int" else value


def _json(body: dict[str, Any]) -> Response:
    """Serialise with the standard library (floats as their shortest round-trip repr, as pydantic does)."""
    return Response(
        content=json.dumps(body, allow_nan=False, separators=(",", ":")), media_type="application/json"
    )
