"""CDS Hooks requests for the tests: prefetch Bundles from FHIR resources (tests/features/fhir_factories
makes the resources: patient P1, apheresis on 2024-01-20, infusion on 2024-03-01 = day 0)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from tests.features.conftest import INFUSION, day
from tests.features.fhir_factories import observation, patient, procedure, project, quantity, registered

__all__ = [
    "AFTER",
    "INFUSION",
    "at",
    "cds_body",
    "day",
    "observation",
    "patient",
    "procedure",
    "project",
    "quantity",
    "registered",
    "searchset",
    "synth_body",
]

AFTER = datetime(2025, 6, 1, 12, tzinfo=UTC)
"""A request time long after both landmarks of the default patient."""
URL = "/cds-services/cart-relapse-{}"


def searchset(resources: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """A searchset Bundle of ``resources`` (each with a fullUrl, as a FHIR server answers)."""
    entries = [
        {
            "fullUrl": f"https://ehr.example.org/fhir/{r['resourceType']}/{r.get('id', i)}",
            "resource": r,
            "search": {"mode": "match"},
        }
        for i, r in enumerate(resources)
    ]
    return {"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries}


def cds_body(resources: Iterable[Mapping[str, Any]], patient_id: str = "P1", **extra: Any) -> dict[str, Any]:
    """A patient-view request whose prefetch holds ``resources``: Patient, Procedures, Observations."""
    items = list(resources)
    by_type = {
        kind: [r for r in items if r["resourceType"] == kind]
        for kind in ("Patient", "Procedure", "Observation")
    }
    prefetch = {
        "patient": next((r for r in by_type["Patient"] if r["id"] == patient_id), None),
        "infusion": searchset(by_type["Procedure"]),
        "observations": searchset(by_type["Observation"]),
    }
    return {
        "hook": "patient-view",
        "hookInstance": "5f1c4a0e-27c5-4f0a-9c2e-2f4a8f8d0b11",
        "context": {"patientId": patient_id, "userId": "Practitioner/example"},
        "prefetch": prefetch,
    } | extra


def synth_body(bundle: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """A synthetic patient's collection Bundle (``synth.fhir``) as a CDS request: the subjects, urn:uuid
    references within the Bundle, become ``Patient/<id>`` as a FHIR server's search results have them."""
    entries = bundle["entry"]
    patients = {
        e["fullUrl"]: e["resource"]["id"] for e in entries if e["resource"]["resourceType"] == "Patient"
    }
    (patient_id,) = patients.values()
    resources = []
    for entry in entries:
        resource = json.loads(json.dumps(entry["resource"]))
        subject = resource.get("subject", {}).get("reference")
        if subject in patients:
            resource["subject"]["reference"] = f"Patient/{patients[subject]}"
        resources.append(resource)
    return patient_id, cds_body([r for r in resources if r["resourceType"] != "Encounter"], patient_id)


def at(client: Any, moment: datetime) -> Any:
    """Make ``client``'s app take ``moment`` as the request time of CDS calls; returns the client."""
    client.app.state.clock = lambda: moment
    return client
