"""Request and response bodies of the API (``XRequest`` / ``XResponse``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from features.catalogue import Modality, ValueType

from .request_model import patient_features_model

PatientFeatures = patient_features_model()


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PredictionRequest(_Strict):
    """One patient."""

    patient_id: str | None = Field(default=None, max_length=128, description="echoed back; never logged")
    features: PatientFeatures = Field(  # type: ignore[valid-type]
        description="the patient's features, by catalogue name (every field is listed with its unit, "
        "accepted units, range and landmarks; GET /v1/models lists them too)",
        examples=[
            {
                "age": 64,
                "product": "axi-cel",
                "ecog_preld": 1,
                "crp_preld": {"value": 12, "unit": "mg/L"},
                "ldh_preld": {"value": 410, "unit": "U/L", "reference_high": 250},
                "tmtv_preld": None,
            }
        ],
    )


class BatchPredictionRequest(_Strict):
    """Several patients (at most the server's ``max_batch_size``; 413 above it)."""

    patients: list[PredictionRequest]


class FeatureContribution(_Strict):
    """One feature's TreeSHAP contribution to the margin (log relative hazard of progression or death)."""

    feature: str
    value: bool | int | float | str | None = Field(
        description="the canonical value the model used (null if missing)"
    )
    contribution: float
    modality: Modality


class ExplanationBody(_Strict):
    """``base_value + sum(contributions) == margin`` (within 1e-5)."""

    scale: str = Field(description="what the contributions add up to: the log relative hazard")
    base_value: float = Field(description="the margin before any feature is known")
    contributions: list[FeatureContribution] = Field(
        description="every feature, largest absolute contribution first"
    )
    modality_totals: dict[str, float]


class ModelRef(_Strict):
    name: str
    version: str | None
    alias: str | None = None


class PredictionResponse(_Strict):
    patient_id: str | None = None
    landmark: str
    outcome: str = Field(description="the predicted event: progression/relapse or death from any cause")
    relapse_probability: float = Field(
        ge=0, le=1, description="risk of the outcome by risk_horizon_days after the landmark"
    )
    risk_horizon_days: int = Field(
        description="the horizon of relapse_probability and of the risk group (365)"
    )
    risk_curve: dict[str, float] = Field(
        description="days after the landmark -> risk of the outcome by then (90, 180, 365, 730); "
        "non-decreasing",
        examples=[{"90": 0.31, "180": 0.42, "365": 0.51, "730": 0.58}],
    )
    risk_group: Literal["low", "intermediate", "high"] = Field(
        description="by fixed absolute thresholds on relapse_probability (GET /v1/models: thresholds)"
    )
    margin: float = Field(description="log relative hazard; every risk rises with it")
    model: ModelRef
    explanation: ExplanationBody
    missing_features: list[str]
    warnings: list[str]
    notice: str


class BatchPredictionResponse(_Strict):
    predictions: list[PredictionResponse]
    notice: str


class FeatureInfo(_Strict):
    """A feature as the catalogue defines it."""

    name: str
    source: Literal["biomarker", "patient", "derived"]
    modality: Modality
    type: ValueType
    unit: str
    accepted_units: list[str]
    levels: list[str] | None
    range: tuple[float, float] | None
    used_by_model: bool
    description: str


class LandmarkModelInfo(_Strict):
    landmark: str
    status: Literal["ready", "unavailable", "loading"]
    reason: str | None = None
    name: str | None = None
    version: str | None = None
    alias: str | None = None
    uri: str | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    thresholds: dict[str, float] = Field(default_factory=dict)
    observed_risk: dict[str, tuple[float, float, float]] = Field(
        default_factory=dict,
        description="per risk group: Kaplan-Meier risk by the thresholds' horizon and its 95% CI "
        "observed in training (out-of-fold)",
    )
    outcome: str | None = None
    horizons_days: list[int] = Field(default_factory=list)
    synthetic_data: bool = True
    notice: str
    features: list[FeatureInfo]


class LandmarkReloadInfo(_Strict):
    """What a reload did for one landmark."""

    landmark: str
    outcome: Literal["swapped", "unchanged", "refused"]
    uri: str = Field(description="the configured model URI (credentials redacted)")
    candidate_version: str | None = Field(
        description="the version the reload loaded; null if it could not be loaded"
    )
    serving_version: str | None = Field(description="the version served after the reload; null if none")
    reason: str | None = Field(default=None, description="why the candidate was refused")


class ReloadResponse(_Strict):
    """A model reload: ``refused`` if any landmark refused its candidate (the old model keeps serving)."""

    number: int = Field(description="reloads since the server started (1 is the start-up load)")
    trigger: Literal["startup", "api", "signal"]
    outcome: Literal["swapped", "unchanged", "refused"]
    started_at: datetime
    finished_at: datetime
    landmarks: list[LandmarkReloadInfo]


class ModelsResponse(_Strict):
    models: list[LandmarkModelInfo]
    last_reload: ReloadResponse | None = Field(default=None, description="the last finished load or reload")
    reload_in_progress: bool = False


class LandmarkHealth(_Strict):
    ready: bool
    version: str | None = None
    reason: str | None = None


class HealthResponse(_Strict):
    status: Literal["live", "ready", "not ready"]
    models: dict[str, LandmarkHealth] = Field(default_factory=dict)


class ErrorItem(_Strict):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorResponse(_Strict):
    detail: list[ErrorItem]


class ErrorResponse(_Strict):
    detail: str
    request_id: str | None = None
