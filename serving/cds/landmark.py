"""Who the request is about, as of which day.

The patient row, day 0 and the landmark date, or why the service has nothing to say (no infusion) or gives no
risk (too early, deceased, incomplete record).

The patient row is built by ``features.fhir.map_resources`` exactly as ingest builds it from a Patient
and its apheresis and infusion Procedures (``features.fhir_patient``); the landmark date is the
infusion date plus the landmark's day. "Today" is the request time in the server's time zone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

from features.fhir import FhirMapping, PatientRow
from features.fhir_terms import INFUSION

from .services import CdsService

Reason = Literal["no-infusion", "no-patient-row", "not-yet", "deceased"]


@dataclass(frozen=True)
class Landmark:
    """The patient row and the dates the point-in-time rule needs."""

    row: PatientRow
    infusion_date: date
    landmark_date: date
    today: date


@dataclass(frozen=True)
class NoRisk:
    """Why no risk is given: ``no-infusion`` gives no card; the others an information card."""

    reason: Reason
    message: str


def find_landmark(
    mapping: FhirMapping,
    patient: Mapping[str, Any],
    *,
    service: CdsService,
    now: datetime,
) -> Landmark | NoRisk:
    """The patient's landmark, or why there is none.

    Args:
        mapping: ``map_resources`` of the prefetch (the Patient and the Procedures among them).
        patient: the Patient resource (its ``deceased[x]`` is read here).
        service: the CDS service called (its landmark day).
        now: the request time (timezone-aware).

    Returns:
        ``Landmark`` when a risk can be given; otherwise ``NoRisk`` with a message for the card.
    """
    patient_id = str(patient["id"])
    if not any(p.kind == INFUSION and p.patient_id == patient_id for p in mapping.procedures):
        return NoRisk("no-infusion", "no completed CAR-T infusion Procedure in the prefetch")
    row = next((r for r in mapping.patients if r.patient_id == patient_id), None)
    if row is None or not row.infusion_date:
        return NoRisk("no-patient-row", f"the record is incomplete for this model: {_why(mapping)}")
    infusion = date.fromisoformat(row.infusion_date)
    landmark = infusion + timedelta(days=service.day)
    today = now.astimezone().date()
    if _deceased(patient):
        return NoRisk(
            "deceased", "the Patient resource records a death; the model predicts for living patients"
        )
    if today < landmark:
        return NoRisk(
            "not-yet",
            f"this {service.landmark} model applies from day {service.day} after infusion, "
            f"{landmark.isoformat()} (infused {infusion.isoformat()})",
        )
    return Landmark(row=row, infusion_date=infusion, landmark_date=landmark, today=today)


def _why(mapping: FhirMapping) -> str:
    """The detail of the rejection that cost the patient row (the Patient's, else an infusion Procedure's)."""
    keyed = [r for r in mapping.rejected if r.resource_type in ("Patient", "Procedure")]
    keyed.sort(key=lambda r: r.resource_type != "Patient")
    return keyed[0].detail if keyed else "the infusion Procedures conflict"


def _deceased(patient: Mapping[str, Any]) -> bool:
    return patient.get("deceasedBoolean") is True or bool(patient.get("deceasedDateTime"))
