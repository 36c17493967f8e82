"""Liveness (the process answers) and readiness (every landmark's model is loaded)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from ..deps import RegistryDep
from ..loader import LoadFailure, ModelRegistry
from ..model import ServingModel
from ..schemas import HealthResponse, LandmarkHealth

router = APIRouter(prefix="/health", tags=["health"])


@router.get("/live", response_model=HealthResponse)
def live() -> HealthResponse:  # noqa: D103 -- a docstring would become the OpenAPI description (docs/reference/)
    return HealthResponse(status="live")


@router.get("/ready", response_model=HealthResponse, responses={503: {"model": HealthResponse}})
def ready(registry: RegistryDep) -> JSONResponse:
    """200 when every landmark's model is loaded; 503 with a reason per landmark otherwise."""
    body = HealthResponse(status="ready" if registry.ready else "not ready", models=landmark_health(registry))
    return JSONResponse(body.model_dump(exclude_none=True), status_code=200 if registry.ready else 503)


def landmark_health(registry: ModelRegistry) -> dict[str, LandmarkHealth]:
    """Each landmark's model: loaded with its version, or not ready with the reason."""
    health = {}
    for landmark in registry.landmarks:
        slot = registry.get(landmark)
        if isinstance(slot, ServingModel):
            health[landmark] = LandmarkHealth(ready=True, version=slot.version)
        elif isinstance(slot, LoadFailure):
            health[landmark] = LandmarkHealth(ready=False, reason=slot.reason)
        else:
            health[landmark] = LandmarkHealth(ready=False, reason="loading")
    return health
