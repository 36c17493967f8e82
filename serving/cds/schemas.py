"""CDS Hooks 2.0 bodies (``patient-view``): discovery, the service call, cards and feedback.

Requests accept fields this service does not read (CDS Hooks lets clients add ``extension``s and
newer fields), except inside ``context``'s ``patientId``, which must be a FHIR id.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PatientViewContext(_Open):
    patientId: str = Field(
        pattern=r"^[A-Za-z0-9\-.]{1,64}$", description="the FHIR id of the patient in view"
    )
    userId: str | None = None
    encounterId: str | None = None


class CdsServiceRequest(_Open):
    """A ``patient-view`` call. ``fhirServer`` and ``fhirAuthorization`` are accepted and not used: the
    service reads only the prefetch (412 when a key is missing).
    """  # noqa: D205 -- the OpenAPI description; docs/reference/ is generated from it

    hook: Literal["patient-view"]
    hookInstance: str = Field(min_length=1, max_length=256)
    fhirServer: str | None = None
    fhirAuthorization: dict[str, Any] | None = None
    context: PatientViewContext
    prefetch: dict[str, Any] | None = Field(
        default=None,
        description="patient: a Patient; infusion and observations: searchset Bundles (or null "
        "when the EHR has no such data). See GET /cds-services for the templates.",
    )


class CdsServiceInfo(_Strict):
    hook: str
    title: str
    description: str
    id: str
    prefetch: dict[str, str]
    usageRequirements: str


class DiscoveryResponse(_Strict):
    services: list[CdsServiceInfo]


class CardSource(_Strict):
    label: str
    url: str | None = None


class CardLink(_Strict):
    label: str
    url: str
    type: Literal["absolute", "smart"]


class Card(_Strict):
    uuid: str
    summary: str = Field(max_length=139)
    indicator: Literal["info", "warning", "critical"]
    source: CardSource
    detail: str | None = Field(default=None, description="GitHub-flavoured Markdown")
    links: list[CardLink] | None = None
    extension: dict[str, Any] | None = Field(
        default=None,
        description='"dev.cart-relapse.prediction": landmark, landmark_date, relapse_probability, '
        "risk_curve, risk_group, margin and model of a risk card",
    )


class CardsResponse(_Strict):
    cards: list[Card]


class Feedback(_Open):
    card: str = Field(min_length=1, max_length=256, description="the card's uuid")
    outcome: Literal["accepted", "overridden"]
    acceptedSuggestions: list[dict[str, Any]] | None = None
    overrideReason: dict[str, Any] | None = Field(
        default=None, description="never logged (userComment is free text)"
    )
    outcomeTimestamp: str = Field(min_length=1, max_length=64)


class FeedbackRequest(_Open):
    feedback: list[Feedback] = Field(min_length=1, max_length=100)


class FeedbackResponse(_Strict):
    received: int
