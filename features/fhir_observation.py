"""Map one FHIR R4 Observation to a raw registry observation row (or say why not).

| registry column | from the Observation |
|---|---|
| patient_id | ``subject``: ``Patient/<id>`` (or a Bundle fullUrl of a Patient) |
| biomarker | ``code``: a catalogue LOINC code (preferred or alternate) or a project code |
| value, unit | ``valueQuantity`` (value, UCUM code), ``valueInteger``, ``valueBoolean``, ``valueString``, |
| | ``valueCodeableConcept`` |
| collected_at | ``effectiveDateTime`` (or ``effectivePeriod.start``, ``effectiveInstant``) |
| reported_at | ``issued`` |
| reference_high | the first ``referenceRange[].high``, converted to the value's unit |

Comparator rule (``valueQuantity.comparator``): ``<x`` and ``<=x`` (a result below the limit of
detection or quantification) are stored as 0; ``>=x`` (above the measuring range) as x, its lower
bound, and ``>x`` as x raised by one part in 10^9 (``STRICTLY_ABOVE``), the least value the store
tells apart from x that is still greater than x, so that a cut-off at the limit itself is met
(ferritin ``>2000`` scores the CAR-HEMATOTOX "> 2000" point). The original value keeps the
comparator (``<0.3``). Rationale in docs/fhir.md.

Only results whose status is final, amended or corrected are read; any other status is rejected
(``unusable status``). An amended or corrected version is a later report of the same observation
(same patient, biomarker and collected_at, its own later ``issued``), which the store keeps beside
the earlier one and point-in-time retrieval prefers from the moment it was issued.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .catalogue import Biomarker, Catalogue
from .fhir_rows import REASON_STATUS, Key, ObservationRow, Rejection
from .fhir_terms import (
    ACCEPTED_STATUSES,
    CodeIndex,
    biomarker_of,
    decimal_text,
    local_text,
    patient_id_of,
    unit_text,
    zone_of,
)
from .units import round_significant

BELOW, ABOVE = ("<", "<="), (">", ">=")
STRICTLY_ABOVE = Decimal("1.000000001")
"""``>x`` is stored as x times this: above x, within the store's relative tolerance of 1e-9 of it."""
Problem = tuple[str, str, str]
"""(reason, field, detail) of a value that cannot be read."""


def map_observation(
    resource: Any,
    *,
    key: Key,
    catalogue: Catalogue,
    codes: CodeIndex,
    references: Mapping[str, str],
) -> ObservationRow | Rejection:
    """The registry row of one Observation, or the reason it gives none.

    Args:
        resource: a validated ``fhir.resources.R4B.observation.Observation``.
        key: where the resource came from (carried into the result).
        catalogue: the biomarker catalogue.
        codes: ``fhir_terms.code_index(catalogue)``.
        references: Bundle fullUrl -> patient id.

    Returns:
        An ``ObservationRow`` (which ingest validation still checks: units, ranges, the patient,
        duplicates), or a ``Rejection``.
    """

    def reject(reason: str, field: str, detail: str) -> Rejection:
        return Rejection(key, "Observation", resource.id, reason, field, detail)

    if resource.status not in ACCEPTED_STATUSES:
        return reject(
            REASON_STATUS, "status", f"status {resource.status} is not one of {', '.join(ACCEPTED_STATUSES)}"
        )
    name, why = biomarker_of(resource.code, codes)
    if name is None:
        return reject("unknown biomarker", "biomarker", why)
    patient_id = patient_id_of(resource.subject, references)
    if patient_id is None:
        given = getattr(resource.subject, "reference", None) or "(none)"
        return reject("unknown patient", "patient_id", f"subject {given} is not a reference to a Patient")
    effective = _effective(resource)
    collected = local_text(effective)
    if collected is None:
        return reject("malformed date", "collected_at", "effective[x] is missing or not a full date")
    value = _value(resource, catalogue.biomarker(name), catalogue)
    if isinstance(value, tuple):
        return reject(*value)
    high = _reference_high(resource, catalogue.biomarker(name), value, catalogue)
    if isinstance(high, tuple):
        return reject(*high)
    return ObservationRow(
        key=key,
        observation_id=resource.id,
        status=resource.status,
        patient_id=patient_id,
        biomarker=name,
        value=value.text,
        unit=value.unit,
        collected_at=collected,
        reported_at=local_text(resource.issued, zone_of(effective)) or "",
        reference_high=high,
        original_value=value.original,
        original_unit=value.given_unit,
    )


@dataclass(frozen=True)
class _Value:
    """A value read from ``value[x]``: registry text and catalogue unit, and the originals as given."""

    text: str
    unit: str = ""
    original: str = ""
    given_unit: str = ""


def _plain(text: str) -> _Value:
    return _Value(text, original=text)


def _effective(resource: Any) -> Any:
    if resource.effectiveDateTime is not None:
        return resource.effectiveDateTime
    if resource.effectivePeriod is not None:
        return resource.effectivePeriod.start
    return resource.effectiveInstant


def _value(resource: Any, biomarker: Biomarker, catalogue: Catalogue) -> _Value | Problem:
    """The value of ``value[x]``, or the problem when there is none or it cannot be read."""
    if resource.valueQuantity is not None:
        return _quantity(resource.valueQuantity, biomarker, catalogue)
    if resource.valueInteger is not None:
        return _plain(str(resource.valueInteger))
    if resource.valueBoolean is not None:
        return _plain("true" if resource.valueBoolean else "false")
    if resource.valueString is not None:
        return _plain(resource.valueString)
    if resource.valueCodeableConcept is not None:
        return _plain(_level(resource.valueCodeableConcept, biomarker))
    absent = [c.code for c in getattr(resource.dataAbsentReason, "coding", None) or [] if c.code]
    because = f" (dataAbsentReason {absent[0]})" if absent else ""
    return (
        "bad value",
        "value",
        f"no value[x]{because}; valueQuantity, valueInteger, valueBoolean, "
        "valueString and valueCodeableConcept are read",
    )


def _quantity(quantity: Any, biomarker: Biomarker, catalogue: Catalogue) -> _Value | Problem:
    if quantity.value is None:
        return "bad value", "value", "valueQuantity has no value"
    number, comparator = decimal_text(quantity.value), quantity.comparator or ""
    if comparator and comparator not in BELOW + ABOVE:
        return "bad value", "value", f"comparator {comparator!r} is not one of <, <=, >=, >"
    given = unit_text(quantity)
    unit = catalogue.unit_spelling(biomarker.name, given)
    text = "0" if comparator in BELOW else number
    if comparator == ">":
        text = format(Decimal(number) * STRICTLY_ABOVE, "f")
    return _Value(text, given if unit is None else unit, comparator + number, given)


def _level(concept: Any, biomarker: Biomarker) -> str:
    """The category level a CodeableConcept names: a coding whose code is a level, else its text."""
    levels = biomarker.levels or ()
    codes: list[str] = [c.code for c in concept.coding or [] if c.code]
    for code in codes:
        if code in levels:
            return code
    text: str | None = concept.text
    return text or (codes[0] if codes else "")


def _reference_high(
    resource: Any,
    biomarker: Biomarker,
    value: _Value,
    catalogue: Catalogue,
) -> str | Problem:
    """The first ``referenceRange[].high`` in the value's unit ("" if none), or (reason, field, detail)."""
    highs = [r.high for r in resource.referenceRange or [] if r.high is not None and r.high.value is not None]
    if not highs:
        return ""
    high, number = highs[0], decimal_text(highs[0].value)
    given = unit_text(high) or value.given_unit
    spelling = catalogue.unit_spelling(biomarker.name, given)
    target = biomarker.unit_factor(value.unit)
    if spelling is None:
        return (
            "unknown unit",
            "reference_high",
            f"referenceRange.high unit {given or '(empty)'} is not accepted for {biomarker.name}",
        )
    if spelling == value.unit or target is None:
        return number
    return repr(round_significant(float(number) * (biomarker.unit_factor(spelling) or 1.0) / target))
