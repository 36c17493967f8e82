"""Read FHIR files: a ``.json`` Bundle (or single resource) or an ``.ndjson`` file of resources.

* ``*.json``: one JSON object, a ``Bundle`` of type collection, batch, transaction or searchset
  (the Bundle itself is validated with fhir.resources), or a single Patient, Observation or
  Procedure. The "line" of a Bundle entry is its index, as in ``Bundle.entry[i]`` (0 = the first
  entry); a single-resource file has one record, line 0.
* ``*.ndjson`` (FHIR Bulk Data): one resource per line, any mix of types; the line of a resource
  is its line number (1 = the first line). Blank lines are skipped (they hold no resource).

A file that is not UTF-8, not valid JSON, or not FHIR of these shapes raises ``FileFormatError``
naming the file and the line (the text line of the JSON error; for NDJSON the line of the resource).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError

from .errors import FileFormatError

BUNDLE_TYPES = ("collection", "batch", "transaction", "searchset")
RESOURCE_TYPES = ("Patient", "Observation", "Procedure")
"""Resource types a ``.json`` file may hold on its own (any type may be an entry or an NDJSON line)."""


@dataclass(frozen=True)
class FhirRecord:
    """One resource of a file (None for a Bundle entry without one) and its JSON text as read."""

    line: int
    resource: dict[str, Any] | None
    text: str


@dataclass(frozen=True)
class FhirFile:
    """A parsed FHIR file: its records, the fullUrl -> patient id of its Patient entries, content hash."""

    path: Path
    records: tuple[FhirRecord, ...]
    references: dict[str, str]
    sha256: str
    size: int


def read_fhir_file(path: Path) -> FhirFile:
    """Parse a ``.json`` or ``.ndjson`` FHIR file into records.

    Args:
        path: the file (its suffix says which format).

    Returns:
        The file's records in order.

    Raises:
        FileFormatError: not UTF-8, not JSON, not a FHIR Bundle/resource, or a Bundle that fails validation.
    """
    data = path.read_bytes()
    text = _decode(path, data)
    if path.suffix.lower() == ".ndjson":
        records, references = _ndjson(path, text), dict[str, str]()
    else:
        records, references = _json(path, text)
    return FhirFile(path, tuple(records), references, hashlib.sha256(data).hexdigest(), len(data))


def _decode(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise FileFormatError(str(path), "not valid UTF-8 text", line=line) from None


def _ndjson(path: Path, text: str) -> list[FhirRecord]:
    records = []
    for number, line in enumerate(text.split("\n"), start=1):  # not splitlines: JSON strings may hold U+2028
        if not line.strip():
            continue
        resource = _loads(path, line, line=number)
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            raise FileFormatError(
                str(path), "not a FHIR resource (a JSON object with a resourceType)", line=number
            )
        records.append(FhirRecord(number, resource, line.strip()))
    return records


def _json(path: Path, text: str) -> tuple[list[FhirRecord], dict[str, str]]:
    document = _loads(path, text)
    kind = document.get("resourceType") if isinstance(document, dict) else None
    if kind in RESOURCE_TYPES:
        return [FhirRecord(0, document, _dumps(document))], {}
    if kind != "Bundle":
        raise FileFormatError(
            str(path),
            f"not a FHIR Bundle or a {', '.join(RESOURCE_TYPES)} resource (resourceType {kind or 'missing'})",
            line=1,
        )
    entries = _check_bundle(path, document)
    records = [FhirRecord(i, e.get("resource"), _dumps(e.get("resource", e))) for i, e in enumerate(entries)]
    references = {
        e["fullUrl"]: e["resource"]["id"]
        for e in entries
        if e.get("fullUrl")
        and isinstance(e.get("resource"), dict)
        and e["resource"].get("resourceType") == "Patient"
        and e["resource"].get("id")
    }
    return records, references


def _check_bundle(path: Path, bundle: dict[str, Any]) -> list[dict[str, Any]]:
    """The Bundle's entries, after validating the Bundle without its entries' resources."""
    entries = bundle.get("entry") or []
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise FileFormatError(str(path), "Bundle.entry is not a list of objects", line=1)
    shell = {**bundle, "entry": [{k: v for k, v in e.items() if k != "resource"} for e in entries]}
    try:
        Bundle.model_validate(shell if entries else {k: v for k, v in bundle.items() if k != "entry"})
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        message = f"not a valid FHIR Bundle: {where}: {error['msg']}"
        raise FileFormatError(str(path), message, line=1) from None
    if bundle.get("type") not in BUNDLE_TYPES:
        raise FileFormatError(
            str(path),
            f"Bundle type {bundle.get('type')} is not read (expected one of {', '.join(BUNDLE_TYPES)})",
            line=1,
        )
    return entries


def _loads(path: Path, text: str, line: int | None = None) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        where = line if line is not None else exc.lineno
        message = f"not valid JSON ({exc.msg}, column {exc.colno})"
        raise FileFormatError(str(path), message, line=where) from None
    except RecursionError:
        raise FileFormatError(str(path), "JSON nested too deeply", line=line) from None


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
