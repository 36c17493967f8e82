"""The project's FHIR vocabulary: code systems, codes, references, dates and units.

Everything here is pure (no files, no store). Codes and units are looked up through the catalogue:
an Observation's code is a catalogue biomarker's LOINC code (preferred or alternate) or the
biomarker's name in the project CodeSystem ``BIOMARKER_SYSTEM``; a UCUM unit code is read in the
catalogue spelling its biomarker accepts (``Catalogue.unit_spelling``). docs/fhir.md has the tables.

Dates: the registry keeps local wall-clock times without an offset (day counts relative to infusion
are calendar days at the centre). A FHIR dateTime with a time carries an offset; it is read as the
wall-clock time it states, and the offset is dropped. ``issued`` is first moved to the offset of
the Observation's ``effective[x]`` (the clock of the collecting site) when both have one, so that
both times are on one clock. A partial date (``2024`` or ``2024-03``) is not precise enough for the
landmark windows and is treated as missing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime, tzinfo
from decimal import Decimal
from typing import Any

from .catalogue import Catalogue

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
BIOMARKER_SYSTEM = "https://cart-relapse.dev/fhir/CodeSystem/biomarker"
"""Project CodeSystem: one code per catalogue biomarker, the code being the biomarker's name."""
PRODUCT_SYSTEM = "https://cart-relapse.dev/fhir/CodeSystem/car-t-product"
"""Project CodeSystem of CAR-T products: the catalogue's product levels (axi-cel, tisa-cel, liso-cel)."""
PROCEDURE_SYSTEM = "https://cart-relapse.dev/fhir/CodeSystem/procedure"
"""Project CodeSystem of the two registry procedures: ``INFUSION`` and ``APHERESIS``."""
INFUSION, APHERESIS = "car-t-infusion", "apheresis"
ACCEPTED_STATUSES = ("final", "amended", "corrected")
"""Observation statuses whose results are stored; any other status is quarantined."""

_PATIENT_REFERENCE = re.compile(r"(?:^|/)Patient/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")

CodeIndex = dict[tuple[str, str], str]
"""(system, code) -> catalogue biomarker name."""


def code_index(catalogue: Catalogue) -> CodeIndex:
    """Every (system, code) that names a catalogue biomarker: its LOINC codes and its project code.

    Args:
        catalogue: the biomarker catalogue.
    """
    index = {(LOINC, code): name for code, name in catalogue.loinc_index().items()}
    return index | {(BIOMARKER_SYSTEM, name): name for name in catalogue.biomarker_names}


def biomarker_of(concept: Any, index: CodeIndex) -> tuple[str | None, str]:
    """The biomarker a CodeableConcept names, or None with a readable reason.

    Args:
        concept: a CodeableConcept (``Observation.code``) or None.
        index: from ``code_index``.

    Returns:
        (biomarker, "") when its codings name exactly one biomarker; (None, detail) otherwise.
    """
    codings = list(getattr(concept, "coding", None) or [])
    found = {index[(c.system, c.code)] for c in codings if (c.system, c.code) in index}
    if len(found) == 1:
        return found.pop(), ""
    given = ", ".join(f"{c.system or '(no system)'}|{c.code}" for c in codings) or "no coding"
    if found:
        return None, f"code ({given}) names more than one biomarker: {', '.join(sorted(found))}"
    return None, f"code ({given}) is neither a catalogue LOINC code nor a {BIOMARKER_SYSTEM} code"


def coded(concepts: Sequence[Any] | Any, system: str) -> list[str]:
    """The codes of ``system`` in one CodeableConcept or a list of them, in order."""
    items: Sequence[Any] = concepts if isinstance(concepts, list | tuple) else [concepts]
    return [
        c.code
        for concept in items
        if concept is not None
        for c in (concept.coding or [])
        if c.system == system and c.code
    ]


def patient_id_of(reference: Any, references: Mapping[str, str]) -> str | None:
    """The patient id a Reference points to, or None.

    Args:
        reference: a Reference (``subject``) or None.
        references: Bundle ``fullUrl`` -> patient id, for ``urn:uuid:`` and other full URLs.

    Returns:
        ``<id>`` for ``Patient/<id>`` (also with a base URL or ``/_history/<n>``), the id of a
        Patient entry whose fullUrl is the reference, else None.
    """
    text = getattr(reference, "reference", None)
    if not text:
        return None
    if text in references:
        return references[text]
    match = _PATIENT_REFERENCE.search(text)
    return match.group(1) if match else None


def zone_of(value: Any) -> tzinfo | None:
    """The UTC offset of a FHIR dateTime with a time, else None."""
    return value.tzinfo if isinstance(value, datetime) else None


def local_text(value: Any, zone: tzinfo | None = None) -> str | None:
    """A FHIR date/dateTime/instant as registry text (ISO 8601, no offset), or None when not a full date.

    Args:
        value: what fhir.resources parsed: ``datetime`` (with its offset), ``date``, a partial
            date string (``2024``, ``2024-03``) or None.
        zone: move a datetime to this offset first (None: keep its own).
    """
    if isinstance(value, datetime):
        moment = value.astimezone(zone) if zone is not None and value.tzinfo is not None else value
        return moment.replace(tzinfo=None).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return None


def day_of(value: Any) -> date | None:
    """The calendar day (local, as written) of a FHIR date or dateTime, or None when partial or missing."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).date()
    return value if isinstance(value, date) else None


def unit_text(quantity: Any) -> str:
    """The unit of a Quantity as given: its UCUM code, else its human-readable unit, else its code."""
    if quantity.system == UCUM and quantity.code:
        return str(quantity.code).strip()
    return str(quantity.unit or quantity.code or "").strip()


def decimal_text(value: Any) -> str:
    """A FHIR decimal as plain text (no exponent): ``1E-7`` -> ``0.0000001``."""
    return format(Decimal(str(value)), "f")


def codes_table(catalogue: Catalogue) -> str:
    """The Markdown table of docs/fhir.md: each biomarker's LOINC codes, project code and units.

    Args:
        catalogue: the biomarker catalogue.
    """
    lines = [
        "| biomarker | LOINC (preferred) | alternate LOINC | project code | unit | UCUM codes read |",
        "|---|---|---|---|---|---|",
    ]
    for b in catalogue.biomarkers:
        ucum = [code for code in catalogue.ucum_units if catalogue.unit_spelling(b.name, code) is not None]
        lines.append(
            f"| {b.name} | {b.loinc or '-'} | {', '.join(b.loinc_alt) or '-'} | `{b.name}` | "
            f"{b.unit or '(none)'} | {', '.join(f'`{c}`' for c in ucum) or '-'} |"
        )
    return "\n".join(lines)
