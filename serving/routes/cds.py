"""CDS Hooks 2.0 routes.

``GET /cds-services`` (discovery), ``POST /cds-services/{service_id}`` (a ``patient-view`` call answered with
cards) and ``POST /cds-services/{service_id}/feedback``.

Authenticated by ``serving.cds.auth.CdsAuthMiddleware`` (the EHR's JWT), not by the API token.
A call maps the prefetch with ``features.fhir.map_resources``, applies the point-in-time rule
(``serving.cds.point_in_time``), validates the resulting ``features`` with ``model.schema.parse`` and
predicts with ``serving.predict.predict_patients``: the numbers of ``POST /v1/predict/{landmark}``.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from features.catalogue import load_catalogue
from features.fhir import map_resources

from ..cds.cards import CardContext, no_risk_card, risk_card
from ..cds.landmark import Landmark, find_landmark
from ..cds.point_in_time import NotUsed, landmark_features
from ..cds.prefetch import Prefetch, PrefetchMissing, read_prefetch
from ..cds.schemas import (
    CardsResponse,
    CdsServiceRequest,
    DiscoveryResponse,
    FeedbackRequest,
    FeedbackResponse,
)
from ..cds.services import CdsService
from ..deps import RegistryDep, SettingsDep, get_model
from ..handoff import Handoff
from ..model import ServingModel
from ..predict import predict_patients
from ..schemas import ErrorResponse, ValidationErrorResponse

logger = logging.getLogger("cart_relapse.serving")
router = APIRouter(
    prefix="/cds-services",
    tags=["cds-hooks"],
    responses={
        401: {
            "model": ErrorResponse,
            "description": "missing or invalid JWT (or no JWKS configured and not loopback)",
        },
    },
)
_CALL_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "the body cannot be decoded (e.g. not UTF-8)"},
    404: {"model": ErrorResponse, "description": "unknown CDS service"},
    412: {
        "model": ErrorResponse,
        "description": "a prefetch key is missing or incomplete (this service never queries the FHIR server)",
    },
    422: {"model": ValidationErrorResponse, "description": "malformed body or prefetch, each problem named"},
    503: {"model": ErrorResponse, "description": "the landmark's model is loading or could not be loaded"},
}


def get_service(service_id: str, request: Request) -> CdsService:
    """The CDS service called; 404 naming the known ids otherwise."""
    services: dict[str, CdsService] = request.app.state.cds_services
    if service_id not in services:
        raise HTTPException(
            404, detail=f"unknown CDS service {service_id[:80]!r}; expected one of {list(services)}"
        )
    return services[service_id]


ServiceDep = Annotated[CdsService, Depends(get_service)]


@router.get("", response_model=DiscoveryResponse)
def discovery(request: Request) -> dict[str, Any]:
    """The CDS services: one ``patient-view`` service per landmark, with its prefetch templates."""
    return {"services": [s.discovery() for s in request.app.state.cds_services.values()]}


@router.post("/{service_id}", response_model=CardsResponse, responses=_CALL_ERRORS)
async def call_service(
    body: CdsServiceRequest,
    request: Request,
    registry: RegistryDep,
    settings: SettingsDep,
    service: ServiceDep,
) -> JSONResponse:
    """Risk of progression/relapse or death from the prefetch as known at the landmark: one card (or
    none when the patient has no CAR-T infusion).
    """  # noqa: D205 -- the OpenAPI description; docs/reference/ is generated from it
    model = get_model(service.landmark, registry)
    try:
        prefetch = read_prefetch(body.prefetch, body.context.patientId)
    except PrefetchMissing as exc:
        return JSONResponse({"detail": str(exc)}, status_code=412)
    link_base = (settings.public_url or str(request.base_url)).rstrip("/")
    cards = await run_in_threadpool(_cards, request, service, model, prefetch, link_base)
    logger.info("cds call service=%s cards=%d", service.id, len(cards))
    return JSONResponse({"cards": cards})


@router.post(
    "/{service_id}/feedback",
    response_model=FeedbackResponse,
    responses={code: _CALL_ERRORS[code] for code in (400, 404, 422)},
)
def feedback(body: FeedbackRequest, service: ServiceDep) -> FeedbackResponse:
    """Accept the EHR's feedback on cards; logged with the card id and outcome only (no patient data,
    no override comment).
    """  # noqa: D205 -- the OpenAPI description; docs/reference/ is generated from it
    for item in body.feedback:
        logger.info(
            "cds feedback service=%s card=%s outcome=%s accepted_suggestions=%d override_reason=%s",
            service.id,
            item.card[:64],
            item.outcome,
            len(item.acceptedSuggestions or []),
            "given" if item.overrideReason else "none",
        )
    return FeedbackResponse(received=len(body.feedback))


def _cards(
    request: Request, service: CdsService, model: ServingModel, prefetch: Prefetch, link_base: str
) -> list[dict[str, Any]]:
    catalogue = load_catalogue()
    now: datetime = request.app.state.clock()
    mapping = map_resources(prefetch.records, catalogue=catalogue)
    context = CardContext(service=service, model=model, catalogue=catalogue)
    found = find_landmark(mapping, prefetch.patient, service=service, now=now)
    if not isinstance(found, Landmark):
        return [] if found.reason == "no-infusion" else [no_risk_card(context, found)]
    features = landmark_features(
        mapping, found, raw=dict(prefetch.records), schema=model.schema, catalogue=catalogue, now=now
    )
    features.not_used += [
        NotUsed(f"{key} entry {index}", "unsupported resource", f"{kind} in the {key} prefetch")
        for key, index, kind in prefetch.unexpected
    ]
    prediction = predict_patients(model, [model.schema.parse(features.features)])[0]
    handoff = Handoff(
        landmark=service.landmark,
        features=features.features,
        patient_id=str(prefetch.patient["id"]),
        model_version=model.version,
        landmark_date=found.landmark_date.isoformat(),
    )
    key = request.app.state.handoff.put(handoff)
    link = f"{link_base}/ui/{service.landmark}/from-card/{key}"
    return [risk_card(context, prediction, features, landmark_date=found.landmark_date, link=link)]
