"""Read a CDS request's prefetch: the Patient, the Procedures and the Observations, or why not.

What is missing (a key left out, ``null`` for the Patient, an OperationOutcome in place of the data,
a paginated Bundle) raises :class:`PrefetchMissing`, answered 412: this service never queries the
EHR's FHIR server, so it cannot fetch what the prefetch lacks. What is malformed (the Patient is not
this patient's, a Bundle is not a Bundle) raises ``serving.inputs.InputError`` (422, naming the field).
``null`` for ``infusion`` or ``observations`` means the EHR has no such data (CDS Hooks 2.0).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..inputs import InputError, InputIssue
from .services import PREFETCH_KEYS

Record = tuple[tuple[str, int], Mapping[str, Any] | None]
"""((prefetch key, entry index), resource JSON or None): what ``features.fhir.map_resources`` reads."""
_EXPECTED = {"infusion": "Procedure", "observations": "Observation"}


class PrefetchMissing(Exception):  # noqa: N818 -- public name, kept: the CDS route answers it with 412
    """The prefetch lacks data the service needs; the message says which (412)."""


@dataclass(frozen=True)
class Prefetch:
    """The prefetched resources of one request.

    Attributes:
        patient: the Patient resource.
        records: every resource to map, keyed by (prefetch key, entry index); the Patient is ("patient", 0).
        skipped: entries that are not data: OperationOutcomes of a search (``search.mode`` outcome).
        unexpected: (key, entry index, resourceType) of resources of another type than the key asks for.
    """

    patient: Mapping[str, Any]
    records: list[Record]
    skipped: int = 0
    unexpected: list[tuple[str, int, str]] = field(default_factory=list)


def read_prefetch(prefetch: Mapping[str, Any] | None, patient_id: str) -> Prefetch:
    """The resources of ``prefetch``, checked against the request's patient.

    Args:
        prefetch: the request's ``prefetch`` object (None when the request has none).
        patient_id: ``context.patientId``.

    Raises:
        PrefetchMissing: a key is missing, the Patient is null, or data came as an OperationOutcome or
            as one page of several.
        InputError: the Patient is not a Patient or not this patient's, a value is not a Bundle.
    """
    missing = [key for key in PREFETCH_KEYS if prefetch is None or key not in prefetch]
    if missing:
        raise PrefetchMissing(
            f"prefetch {', '.join(repr(k) for k in missing)} missing: this service does not "
            "query the FHIR server (fhirServer and fhirAuthorization are not used); send "
            "every prefetch key of GET /cds-services"
        )
    assert prefetch is not None
    patient = _patient(prefetch["patient"], patient_id)
    records: list[Record] = [(("patient", 0), patient)]
    skipped, unexpected = 0, []
    for key in ("infusion", "observations"):
        for index, resource in enumerate(_entries(prefetch[key], key)):
            kind = resource.get("resourceType") if isinstance(resource, Mapping) else None
            if kind == "OperationOutcome":
                skipped += 1
            elif resource is not None and kind != _EXPECTED[key]:
                unexpected.append((key, index, str(kind)))
            else:
                records.append(((key, index), resource))
    return Prefetch(patient=patient, records=records, skipped=skipped, unexpected=unexpected)


def _patient(value: Any, patient_id: str) -> Mapping[str, Any]:
    if value is None:
        raise PrefetchMissing(
            "prefetch 'patient' is null: the CDS client has no Patient for context.patientId"
        )
    _not_an_outcome(value, "patient")
    if not isinstance(value, Mapping) or value.get("resourceType") != "Patient":
        raise _invalid(("patient",), "expected a Patient resource", "patient_type")
    if value.get("id") != patient_id:
        raise _invalid(("patient", "id"), "the Patient's id is not context.patientId", "patient_mismatch")
    return value


def _entries(value: Any, key: str) -> list[Mapping[str, Any] | None]:
    """The resources of a searchset Bundle (a single resource is taken as one entry; null as none)."""
    if value is None:
        return []
    _not_an_outcome(value, key)
    if not isinstance(value, Mapping) or not isinstance(value.get("resourceType"), str):
        raise _invalid((key,), "expected a FHIR Bundle (searchset)", "bundle_type")
    if value["resourceType"] != "Bundle":
        return [value]
    if any(
        isinstance(link, Mapping) and link.get("relation") == "next" for link in _list(value, "link", key)
    ):
        raise PrefetchMissing(
            f"prefetch {key!r} is one page of several (Bundle.link next): this service does not "
            "fetch further pages; send the whole result in one Bundle"
        )
    entries = _list(value, "entry", key)
    if not all(isinstance(entry, Mapping) for entry in entries):
        raise _invalid((key, "entry"), "every Bundle entry must be an object", "entry_type")
    return [
        entry.get("resource") if isinstance(entry.get("resource"), Mapping) else None for entry in entries
    ]


def _list(bundle: Mapping[str, Any], name: str, key: str) -> list[Any]:
    value = bundle.get(name, [])
    if not isinstance(value, list):
        raise _invalid((key, name), f"Bundle.{name} must be an array", "list_type")
    return value


def _not_an_outcome(value: Any, key: str) -> None:
    if isinstance(value, Mapping) and value.get("resourceType") == "OperationOutcome":
        raise PrefetchMissing(f"prefetch {key!r} is an OperationOutcome: the CDS client could not fetch it")


def _invalid(loc: tuple[str, ...], msg: str, kind: str) -> InputError:
    return InputError([InputIssue(("body", "prefetch", *loc), msg, kind)])
