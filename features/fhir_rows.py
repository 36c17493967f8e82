"""What the FHIR mapping produces: raw registry rows, procedure facts and rejected resources.

Every item carries the ``key`` its resource came with (for ingest: the file and line; for a CDS
Hooks service: the prefetch entry), so the caller can account for each resource read.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field

Key = Hashable
"""Where a resource came from; opaque to the mapping."""

REASON_INVALID = "invalid resource"
REASON_UNSUPPORTED = "unsupported resource"
REASON_STATUS = "unusable status"
FHIR_REASONS = (REASON_INVALID, REASON_UNSUPPORTED, REASON_STATUS)
"""Quarantine reasons only FHIR input has (the others are the registry's, docs/data-format.md)."""


@dataclass(frozen=True)
class Rejection:
    """A resource that gives no registry row, with the quarantine reason, field and detail."""

    key: Key
    resource_type: str
    resource_id: str | None
    reason: str
    field: str
    detail: str


@dataclass(frozen=True)
class ObservationRow:
    """One Observation as a raw registry observation row (text, as a CSV row would have it).

    ``unit`` is the catalogue spelling of the FHIR unit when the catalogue knows it (else the unit
    as given, which validation then quarantines); ``original_value``/``original_unit`` are the value
    with its comparator and the unit exactly as the resource gave them.
    """

    key: Key
    observation_id: str | None
    status: str
    patient_id: str
    biomarker: str
    value: str
    unit: str
    collected_at: str
    reported_at: str
    reference_high: str
    original_value: str
    original_unit: str

    def registry_row(self) -> dict[str, str]:
        """The row in the columns of docs/data-format.md (clinical/imaging/ctdna/cellular)."""
        return {
            "patient_id": self.patient_id,
            "biomarker": self.biomarker,
            "value": self.value,
            "unit": self.unit,
            "collected_at": self.collected_at,
            "reported_at": self.reported_at,
            "reference_high": self.reference_high,
        }


@dataclass(frozen=True)
class ProcedureFacts:
    """A completed CAR-T infusion or apheresis Procedure: whose, which kind, which day, which product."""

    key: Key
    procedure_id: str | None
    patient_id: str
    kind: str
    """``fhir_terms.INFUSION`` or ``fhir_terms.APHERESIS``."""
    day: str
    """ISO date (local, as written)."""
    product: str
    """A catalogue product level, or "" when the Procedure names none."""


@dataclass(frozen=True)
class PatientFacts:
    """What a Patient resource says: id, centre, sex and birth date (age needs the apheresis day)."""

    key: Key
    patient_id: str
    center: str
    sex: str
    birth_date: str
    """ISO date, or "" when unknown."""


@dataclass(frozen=True)
class PatientRow:
    """A Patient and its Procedures as a raw registry ``patients`` row (text)."""

    key: Key
    patient_id: str
    center: str
    sex: str
    age: str
    product: str
    apheresis_date: str
    infusion_date: str

    def registry_row(self) -> dict[str, str]:
        """The row in the columns of docs/data-format.md (patients)."""
        return {
            "patient_id": self.patient_id,
            "center": self.center,
            "sex": self.sex,
            "age": self.age,
            "product": self.product,
            "apheresis_date": self.apheresis_date,
            "infusion_date": self.infusion_date,
        }


@dataclass(frozen=True)
class FhirMapping:
    """The result of mapping a batch of resources.

    Attributes:
        patients: one row per valid Patient whose Procedures give the required data.
        observations: one row per Observation with an accepted status and a catalogue code.
        procedures: every valid infusion/apheresis Procedure, whether or not its Patient is in the batch.
        links: procedure key -> the key of the Patient row it was merged into.
        rejected: every resource that gives no row, with the reason.
    """

    patients: list[PatientRow] = field(default_factory=list)
    observations: list[ObservationRow] = field(default_factory=list)
    procedures: list[ProcedureFacts] = field(default_factory=list)
    links: dict[Key, Key] = field(default_factory=dict)
    rejected: list[Rejection] = field(default_factory=list)

    @property
    def unlinked_procedures(self) -> list[ProcedureFacts]:
        """Procedures whose Patient is not in the batch (and that were not rejected)."""
        rejected = {r.key for r in self.rejected}
        return [p for p in self.procedures if p.key not in self.links and p.key not in rejected]
