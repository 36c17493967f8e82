"""Tiny FHIR R4 resources for the tests (JSON objects as a sender would write them)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from features.fhir_terms import (
    APHERESIS,
    BIOMARKER_SYSTEM,
    INFUSION,
    LOINC,
    PROCEDURE_SYSTEM,
    PRODUCT_SYSTEM,
    UCUM,
)

from .conftest import APHERESIS as APHERESIS_DAY
from .conftest import INFUSION as INFUSION_DAY
from .conftest import day


def loinc(code: str) -> dict[str, Any]:
    return {"coding": [{"system": LOINC, "code": code}]}


def project(name: str) -> dict[str, Any]:
    return {"coding": [{"system": BIOMARKER_SYSTEM, "code": name}]}


def quantity(value: float, unit: str, comparator: str | None = None) -> dict[str, Any]:
    """A valueQuantity with a UCUM code."""
    q: dict[str, Any] = {"value": value, "unit": unit, "system": UCUM, "code": unit}
    return q | ({"comparator": comparator} if comparator else {})


def observation(
    oid: str = "o1",
    *,
    code: str | dict = "2532-0",
    patient: str = "P1",
    value: dict | None = None,
    collected: int | str = -5,
    issued: int | str | None = -4,
    status: str = "final",
    **extra: Any,
) -> dict[str, Any]:
    """An LDH Observation of P1 (300 U/L) collected on day -5 and issued on day -4, with overrides.

    ``collected``/``issued`` are day offsets from the default infusion day or FHIR text.
    """
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": oid,
        "status": status,
        "code": loinc(code) if isinstance(code, str) else code,
        "subject": {"reference": f"Patient/{patient}"},
        "effectiveDateTime": day(collected) if isinstance(collected, int) else collected,
    }
    if issued is not None:
        resource["issued"] = f"{day(issued)}T10:00:00+01:00" if isinstance(issued, int) else issued
    resource |= {"valueQuantity": quantity(300, "U/L")} if value is None else value
    return resource | extra


def patient(pid: str = "P1", **extra: Any) -> dict[str, Any]:
    """A Patient of centre C1, female, 60 at the default apheresis day."""
    born = APHERESIS_DAY.replace(year=APHERESIS_DAY.year - 60).isoformat()
    return {
        "resourceType": "Patient",
        "id": pid,
        "gender": "female",
        "birthDate": born,
        "managingOrganization": {"reference": "Organization/C1"},
    } | extra


def procedure(
    pid: str = "P1",
    kind: str = INFUSION,
    *,
    performed: str | None = None,
    product: str | None = "axi-cel",
    status: str = "completed",
    rid: str | None = None,
) -> dict[str, Any]:
    """A completed CAR-T infusion (default day) or apheresis (default day) Procedure of ``pid``."""
    default = INFUSION_DAY if kind == INFUSION else APHERESIS_DAY
    resource: dict[str, Any] = {
        "resourceType": "Procedure",
        "id": rid or f"{kind}-{pid}",
        "status": status,
        "code": {"coding": [{"system": PROCEDURE_SYSTEM, "code": kind}]},
        "subject": {"reference": f"Patient/{pid}"},
        "performedDateTime": performed or default.isoformat(),
    }
    if product:
        resource["usedCode"] = [{"coding": [{"system": PRODUCT_SYSTEM, "code": product}]}]
    return resource


def registered(pid: str = "P1", **patient_extra: Any) -> list[dict[str, Any]]:
    """A Patient with its apheresis and infusion Procedures."""
    return [patient(pid, **patient_extra), procedure(pid, APHERESIS), procedure(pid, INFUSION)]


def write_ndjson(path: Path, resources: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in resources))
    return path


def write_bundle(path: Path, resources: list[dict[str, Any]], bundle_type: str = "collection") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    entries = [{"resource": r} for r in resources]
    path.write_text(json.dumps({"resourceType": "Bundle", "type": bundle_type, "entry": entries}))
    return path
