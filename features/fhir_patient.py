"""Map FHIR R4 Patient and Procedure resources to raw registry ``patients`` rows.

| registry column | from |
|---|---|
| patient_id | ``Patient.id`` |
| center | ``Patient.managingOrganization``: ``Organization/<id>``, else its ``identifier.value`` |
| sex | ``Patient.gender``: female -> F, male -> M, other/unknown/absent -> empty (unknown) |
| age | whole years from ``Patient.birthDate`` to the apheresis day (a partial birth date: the |
| | middle of its year or month) |
| apheresis_date | ``performed[x]`` of the completed apheresis Procedure |
| infusion_date | ``performed[x]`` of the completed CAR-T infusion Procedure (none: never infused) |
| product | ``Procedure.usedCode`` in ``PRODUCT_SYSTEM`` (infusion first, else apheresis) |

A Procedure is read when its status is ``completed`` and its ``code`` is ``PROCEDURE_SYSTEM``
``car-t-infusion`` or ``apheresis``. A patient row is built from the Patient and every Procedure
of it in the batch: two Procedures of one kind on different days (or naming different products)
conflict and none is used; a Patient without an apheresis Procedure or without a product gives no
row. Procedures merged into a row share its fate, a rejected Patient takes its Procedures along.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from .fhir_rows import (
    REASON_STATUS,
    REASON_UNSUPPORTED,
    Key,
    PatientFacts,
    PatientRow,
    ProcedureFacts,
    Rejection,
)
from .fhir_terms import APHERESIS, INFUSION, PROCEDURE_SYSTEM, PRODUCT_SYSTEM, coded, day_of, patient_id_of

_SEX = {"female": "F", "male": "M"}
_DATE_FIELD = {APHERESIS: "apheresis_date", INFUSION: "infusion_date"}


def map_patient(resource: Any, *, key: Key) -> PatientFacts | Rejection:
    """The facts a Patient resource gives (id, centre, sex, birth date), or why it gives none.

    Args:
        resource: a validated ``fhir.resources.R4B.patient.Patient``.
        key: where the resource came from.
    """
    if not resource.id:
        why = "Patient has no id (the registry's patient_id)"
        return Rejection(key, "Patient", None, "bad value", "patient_id", why)
    birth = resource.birthDate
    born = birth.isoformat() if isinstance(birth, date) else _middle(birth) if birth else ""
    return PatientFacts(
        key, resource.id, _center(resource.managingOrganization), _SEX.get(resource.gender or "", ""), born
    )


def map_procedure(
    resource: Any,
    *,
    key: Key,
    references: Mapping[str, str],
    products: Iterable[str],
) -> ProcedureFacts | Rejection:
    """The facts of a completed CAR-T infusion or apheresis Procedure, or why it gives none.

    Args:
        resource: a validated ``fhir.resources.R4B.procedure.Procedure``.
        key: where the resource came from.
        references: Bundle fullUrl -> patient id.
        products: the catalogue's product levels.
    """

    def reject(reason: str, field: str, detail: str) -> Rejection:
        return Rejection(key, "Procedure", resource.id, reason, field, detail)

    kinds = [c for c in coded(resource.code, PROCEDURE_SYSTEM) if c in (INFUSION, APHERESIS)]
    if len(set(kinds)) != 1:
        return reject(
            REASON_UNSUPPORTED,
            "resourceType",
            f"Procedure code is not exactly one of {PROCEDURE_SYSTEM}|{INFUSION} or |{APHERESIS}",
        )
    kind = kinds[0]
    if resource.status != "completed":
        return reject(REASON_STATUS, "status", f"{kind} Procedure status {resource.status} is not completed")
    patient_id = patient_id_of(resource.subject, references)
    if patient_id is None:
        return reject("unknown patient", "patient_id", "subject is not a reference to a Patient")
    performed = resource.performedDateTime or getattr(resource.performedPeriod, "start", None)
    day = day_of(performed)
    if day is None:
        return reject("malformed date", _DATE_FIELD[kind], "performed[x] is missing or not a full date")
    named = coded(resource.usedCode or [], PRODUCT_SYSTEM)
    unknown = [p for p in named if p not in set(products)]
    if unknown or len(set(named)) > 1:
        return reject(
            "bad value",
            "product",
            f"usedCode products {', '.join(named)}: expected one of {', '.join(products)} ({PRODUCT_SYSTEM})",
        )
    return ProcedureFacts(key, resource.id, patient_id, kind, day.isoformat(), named[0] if named else "")


def assemble_patients(
    patients: list[PatientFacts],
    procedures: list[ProcedureFacts],
) -> tuple[list[PatientRow], dict[Key, Key], list[Rejection]]:
    """Registry patient rows from Patients and their Procedures.

    Args:
        patients: the batch's Patient facts (one patient_id may come twice; each gets a row, which
            ingest validation then sees as a duplicate or a conflict).
        procedures: the batch's Procedure facts; those of patients not in ``patients`` are left alone.

    Returns:
        (rows, links procedure key -> patient row key, rejections of Patients and Procedures).
    """
    by_patient: dict[str, list[ProcedureFacts]] = {}
    for procedure in procedures:
        by_patient.setdefault(procedure.patient_id, []).append(procedure)
    rows: list[PatientRow] = []
    links: dict[Key, Key] = {}
    rejected: list[Rejection] = []
    accounted: set[str] = set()
    for facts in patients:
        own = by_patient.get(facts.patient_id, [])
        row, problems = _row(facts, own)
        if isinstance(row, Rejection):
            rejected.append(row)
        else:
            rows.append(row)
        if facts.patient_id in accounted:
            continue  # its Procedures are accounted for with the first Patient of this id
        accounted.add(facts.patient_id)
        rejected += problems
        usable = [p for p in own if p.key not in {r.key for r in problems}]
        if isinstance(row, Rejection):
            rejected += _cascade(row, usable)
        else:
            links |= {p.key: facts.key for p in usable}
    return rows, links, rejected


def _row(facts: PatientFacts, own: list[ProcedureFacts]) -> tuple[PatientRow | Rejection, list[Rejection]]:
    """The patient row, or the Patient's rejection; plus rejections of conflicting or repeated Procedures."""
    chosen: dict[str, ProcedureFacts | None] = {}
    problems: list[Rejection] = []
    for kind in (APHERESIS, INFUSION):
        procedure, kind_problems = _one_of(facts.patient_id, [p for p in own if p.kind == kind], kind)
        chosen[kind], problems = procedure, problems + kind_problems
    apheresis, infusion = chosen[APHERESIS], chosen[INFUSION]
    products = {p.product for p in (apheresis, infusion) if p is not None and p.product}
    if apheresis is None:
        why = (
            "conflicting apheresis Procedures"
            if any(p.kind == APHERESIS for p in own)
            else f"no completed apheresis Procedure ({PROCEDURE_SYSTEM}|{APHERESIS}) refers to it"
        )
        detail = f"Patient/{facts.patient_id}: {why}"
        return _reject(facts, "malformed date", "apheresis_date", detail), problems
    if len(products) != 1:
        why = (
            f"its Procedures name different products ({', '.join(sorted(products))})"
            if products
            else f"no apheresis or infusion Procedure names the product (usedCode in {PRODUCT_SYSTEM})"
        )
        reason = "conflicting report" if products else "bad value"
        return _reject(facts, reason, "product", f"Patient/{facts.patient_id}: {why}"), problems
    return PatientRow(
        facts.key,
        facts.patient_id,
        facts.center,
        facts.sex,
        _age(facts.birth_date, apheresis.day),
        products.pop(),
        apheresis.day,
        infusion.day if infusion else "",
    ), problems


def _one_of(
    patient_id: str,
    same_kind: list[ProcedureFacts],
    kind: str,
) -> tuple[ProcedureFacts | None, list[Rejection]]:
    """The one Procedure of a kind: repeats of it are duplicates; different ones all conflict."""
    if not same_kind:
        return None, []
    distinct = {(p.day, p.product) for p in same_kind}
    if len(distinct) > 1:
        days = ", ".join(sorted(f"{d} {p}".strip() for d, p in distinct))
        detail = (
            f"Patient/{patient_id} has {kind} Procedures on different days or with different products "
            f"({days}): none is used"
        )
        field = _DATE_FIELD[kind]
        return None, [
            Rejection(p.key, "Procedure", p.procedure_id, "conflicting report", field, detail)
            for p in same_kind
        ]
    kept = same_kind[0]
    return kept, [
        Rejection(
            p.key,
            "Procedure",
            p.procedure_id,
            "duplicate",
            "row",
            f"repeats {kind} Procedure/{kept.procedure_id} of Patient/{patient_id}",
        )
        for p in same_kind[1:]
    ]


def _cascade(patient: Rejection, usable: list[ProcedureFacts]) -> list[Rejection]:
    """The Procedures of a rejected Patient are rejected with it."""
    return [
        Rejection(
            p.key,
            "Procedure",
            p.procedure_id,
            patient.reason,
            patient.field,
            f"its Patient is quarantined: {patient.detail}",
        )
        for p in usable
    ]


def _reject(facts: PatientFacts, reason: str, field: str, detail: str) -> Rejection:
    return Rejection(facts.key, "Patient", facts.patient_id, reason, field, detail)


def _center(reference: Any) -> str:
    if reference is None:
        return ""
    text = reference.reference or ""
    if text.startswith("Organization/") or "/Organization/" in text:
        return text.rsplit("Organization/", 1)[1].split("/")[0]
    return str(getattr(reference.identifier, "value", None) or "")


def _middle(partial: str) -> str:
    """A partial birth date (``1958`` or ``1958-03``) as the middle of its year or month."""
    parts = str(partial).split("-")
    return f"{parts[0]}-07-01" if len(parts) == 1 else f"{parts[0]}-{parts[1]}-15"


def _age(birth_date: str, apheresis_day: str) -> str:
    """Whole years from the birth date to the apheresis day ("" when the birth date is unknown)."""
    if not birth_date:
        return ""
    born, day = date.fromisoformat(birth_date), date.fromisoformat(apheresis_day)
    return str(day.year - born.year - ((day.month, day.day) < (born.month, born.day)))
