"""FHIR R4 -> raw registry rows: the one mapping used by ingest and by any service that receives FHIR.

Pure: no files, no store. Give it resources (as parsed JSON objects, each with a key saying where
it came from) and it returns the registry rows they make plus every resource that makes none,
with the quarantine reason. A CDS Hooks service that receives a prefetch Bundle of Observations and
the infusion Procedure of one patient calls ``map_resources`` on the entries and reads
``observations`` and ``procedures``; ingest (``features.fhir_stage``) also reads ``patients`` and
validates the rows exactly as it validates CSV rows.

Resources are validated with ``fhir.resources`` (its R4B models, which cover R4 Patient,
Observation and Procedure). The field mappings are in ``fhir_observation`` and ``fhir_patient``,
the codes, units and dates in ``fhir_terms``; docs/fhir.md documents all of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.procedure import Procedure
from pydantic import ValidationError

from .catalogue import Catalogue, load_catalogue
from .fhir_observation import map_observation
from .fhir_patient import assemble_patients, map_patient, map_procedure
from .fhir_rows import (
    FHIR_REASONS,
    REASON_INVALID,
    REASON_UNSUPPORTED,
    FhirMapping,
    Key,
    ObservationRow,
    PatientFacts,
    PatientRow,
    ProcedureFacts,
    Rejection,
)
from .fhir_terms import code_index

MODELS: dict[str, type[Any]] = {"Patient": Patient, "Observation": Observation, "Procedure": Procedure}
"""The resource types read, with their fhir.resources R4B model."""

__all__ = [
    "FHIR_REASONS",
    "MODELS",
    "FhirMapping",
    "ObservationRow",
    "PatientRow",
    "ProcedureFacts",
    "Rejection",
    "map_resources",
    "parse_resource",
]


def parse_resource(data: Mapping[str, Any]) -> Any:
    """Validate a resource's JSON object with its fhir.resources R4B model.

    Args:
        data: a JSON object whose ``resourceType`` is a key of ``MODELS``.

    Returns:
        The model instance.

    Raises:
        KeyError: another resource type.
        pydantic.ValidationError: not a valid resource of its type.
    """
    return MODELS[data["resourceType"]].model_validate(data)


def map_resources(
    records: Iterable[tuple[Key, Mapping[str, Any] | None]],
    *,
    catalogue: Catalogue | None = None,
    references: Mapping[str, str] | None = None,
) -> FhirMapping:
    """Map a batch of FHIR resources to registry rows.

    Args:
        records: (key, resource JSON object) pairs; None for an entry without a resource.
        catalogue: the biomarker catalogue (the packaged one by default).
        references: fullUrl -> patient id of the Patient entries of the batch's Bundles, so that
            ``urn:uuid:`` subjects resolve.

    Returns:
        Patient rows (a Patient with its Procedures), observation rows, valid Procedures, the
        Procedure -> Patient links and the rejected resources.
    """
    catalogue = catalogue or load_catalogue()
    references = references or {}
    codes = code_index(catalogue)
    products = next(a.levels or () for a in catalogue.patient_attributes if a.name == "product")
    mapping, patients = FhirMapping(), []
    for key, data in records:
        resource = _validated(key, data)
        if isinstance(resource, Rejection):
            mapping.rejected.append(resource)
        elif isinstance(resource, Observation):
            _add(
                mapping,
                map_observation(resource, key=key, catalogue=catalogue, codes=codes, references=references),
            )
        elif isinstance(resource, Procedure):
            _add(mapping, map_procedure(resource, key=key, references=references, products=products))
        elif isinstance(facts := map_patient(resource, key=key), PatientFacts):
            patients.append(facts)
        else:
            mapping.rejected.append(facts)
    rows, links, rejected = assemble_patients(patients, mapping.procedures)
    mapping.patients.extend(rows)
    mapping.links.update(links)
    mapping.rejected.extend(rejected)
    return mapping


def _validated(key: Key, data: Mapping[str, Any] | None) -> Any:
    """The validated model of a supported resource, or its rejection."""
    if not isinstance(data, Mapping):
        return Rejection(key, "", None, REASON_UNSUPPORTED, "resourceType", "Bundle entry has no resource")
    kind, resource_id = str(data.get("resourceType") or ""), data.get("id")
    if kind not in MODELS:
        return Rejection(
            key,
            kind,
            resource_id,
            REASON_UNSUPPORTED,
            "resourceType",
            f"{kind or '(no resourceType)'} is not read (only {', '.join(MODELS)})",
        )
    try:
        return parse_resource(data)
    except ValidationError as exc:
        errors = exc.errors()
        where = ".".join(str(part) for part in errors[0]["loc"]) or kind
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        given = repr(errors[0].get("input"))[:60]
        return Rejection(
            key,
            kind,
            resource_id,
            REASON_INVALID,
            where,
            f"not a valid FHIR R4 {kind}: {where}: {errors[0]['msg']} (got {given}){more}",
        )


def _add(mapping: FhirMapping, item: Any) -> None:
    if isinstance(item, Rejection):
        mapping.rejected.append(item)
    elif isinstance(item, ObservationRow):
        mapping.observations.append(item)
    elif isinstance(item, ProcedureFacts):
        mapping.procedures.append(item)
