"""``GET /v1/models``: each landmark's model, metrics and features, and the last reload.

Each landmark's model, its training metrics and its features (from the catalogue), and the outcome of the last
model load or reload.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter

from features.catalogue import Catalogue, FeatureSpec, load_catalogue
from models.predictor import SYNTHETIC_NOTICE

from ..deps import RegistryDep, ReloaderDep
from ..errors import UNAUTHORIZED
from ..loader import LoadFailure, ModelRegistry
from ..model import ServingModel
from ..schemas import FeatureInfo, LandmarkModelInfo, ModelsResponse
from .admin import reload_response

router = APIRouter(prefix="/v1", tags=["models"], responses=UNAUTHORIZED)


@router.get("/models", response_model=ModelsResponse)
def list_models(registry: RegistryDep, reloader: ReloaderDep) -> ModelsResponse:
    """Name, version, alias, metrics and the synthetic-data notice of every landmark's model, with
    each feature's canonical unit, accepted units, type, levels and valid range; the last reload.
    """  # noqa: D205 -- the OpenAPI description; docs/reference/ is generated from it
    catalogue = load_catalogue()
    last = reloader.last
    return ModelsResponse(
        models=[landmark_info(catalogue, registry, lm) for lm in registry.landmarks],
        last_reload=reload_response(last) if last else None,
        reload_in_progress=reloader.in_progress,
    )


def landmark_info(catalogue: Catalogue, registry: ModelRegistry, landmark: str) -> LandmarkModelInfo:
    """One landmark's model, metrics and features, or why it is not being served."""
    slot = registry.get(landmark)
    if not isinstance(slot, ServingModel):
        reason = slot.reason if isinstance(slot, LoadFailure) else "still loading"
        status: Literal["unavailable", "loading"] = (
            "unavailable" if isinstance(slot, LoadFailure) else "loading"
        )
        features = [feature_info(catalogue, s, used=False) for s in catalogue.feature_specs(landmark)]
        return LandmarkModelInfo(
            landmark=landmark, status=status, reason=reason, notice=SYNTHETIC_NOTICE, features=features
        )
    meta = slot.predictor.metadata
    used = set(slot.predictor.feature_names)
    return LandmarkModelInfo(
        landmark=landmark,
        status="ready",
        name=slot.name,
        version=slot.version,
        alias=slot.alias,
        uri=slot.uri,
        metrics=meta.metrics,
        thresholds=meta.thresholds.model_dump(),
        observed_risk=meta.observed_risk,
        outcome=meta.outcome,
        horizons_days=list(meta.horizons_days),
        synthetic_data=meta.synthetic_data,
        notice=meta.notice,
        features=[
            feature_info(catalogue, f.spec, used=f.spec.name in used) for f in slot.schema.fields.values()
        ],
    )


def feature_info(catalogue: Catalogue, spec: FeatureSpec, *, used: bool) -> FeatureInfo:
    """What a request may send for one feature: unit, accepted units, type, levels, range."""
    accepted = list(catalogue.biomarker(spec.biomarker).accepted_units) if spec.biomarker else [spec.unit]
    return FeatureInfo(
        name=spec.name,
        source=spec.source,
        modality=spec.modality,
        type=spec.type,
        unit=spec.unit,
        accepted_units=accepted,
        levels=list(spec.levels) if spec.levels else None,
        range=spec.range,
        used_by_model=used,
        description=spec.description,
    )
