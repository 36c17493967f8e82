"""Stage the FHIR files of an ingest: read them, map them (``features.fhir``), load the rows as text.

All FHIR files of a batch are mapped together (a Patient and its Procedures may be in different
files). Each file is then staged in up to three parts, each a temporary table with its own batch
file index and the same file name and hash:

* patients: the Patient rows (registry ``patients`` columns), validated with the patients file;
* observations: the Observation rows (registry observation columns), validated with the
  observation files;
* records: every other resource read, with its outcome: rejected by the mapping (reason, field,
  detail), or a Procedure merged into a patient row, which takes that row's status (classified
  by ``classify_fhir_records`` once the patients are).

Every part keeps each row's line (``PREFIX + "line"``: the Bundle entry index or NDJSON line) and
the resource's JSON text (``PREFIX + "original"``, the quarantine's original row), so a file's
resources read = accepted + quarantined over its parts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from .catalogue import Catalogue
from .fhir_rows import FhirMapping, Key, Rejection
from .readers import COLUMNS, PREFIX, RegistryFile, StagedFile
from .validate import reason_sql

if TYPE_CHECKING:
    from .fhir_files import FhirFile

_PATIENT_COLUMNS = COLUMNS["patients"][0]
_OBSERVATION_COLUMNS = COLUMNS["clinical"][0] + COLUMNS["clinical"][1]
_RECORD_COLUMNS = ("reason", "field", "detail", "link_idx", "link_line")


@dataclass(frozen=True)
class FhirSource:
    """One FHIR file of the batch: its resources read and the indices of its staged parts."""

    file: RegistryFile
    sha256: str
    size: int
    read: int
    parts: tuple[int, ...]


@dataclass(frozen=True)
class FhirStaged:
    """The staged FHIR files of a batch."""

    sources: tuple[FhirSource, ...] = ()
    patients: tuple[StagedFile, ...] = ()
    observations: tuple[StagedFile, ...] = ()
    records: tuple[StagedFile, ...] = ()
    linked: bool = False
    """Some Procedure was merged into a patient row (its status comes from ``pat_checked``)."""

    @property
    def parts(self) -> list[StagedFile]:
        """Every staged part, by index."""
        return sorted((*self.patients, *self.observations, *self.records), key=lambda s: s.index)


def stage_fhir(
    con: duckdb.DuckDBPyConnection, files: list[RegistryFile], *, first_index: int, catalogue: Catalogue,
    derive_observations: Callable[[StagedFile], str],
) -> FhirStaged:
    """Read, map and stage the FHIR files of a batch.

    Args:
        con: the ingest connection (before the transaction: temporary tables only).
        files: the batch's FHIR files, in order.
        first_index: the batch file index of the first part (after the table files).
        catalogue: the biomarker catalogue.
        derive_observations: the parse expressions of observation rows (``parse_columns``).

    Returns:
        The staged parts and, per file, its count of resources read.

    Raises:
        FileFormatError: a file that is not UTF-8 JSON/NDJSON FHIR (before anything is staged).
    """
    from .fhir import map_resources  # fhir.resources loads its models: only when there are FHIR files
    from .fhir_files import read_fhir_file

    parsed = [read_fhir_file(f.path) for f in files]
    records = [((n, r.line), r.resource) for n, p in enumerate(parsed) for r in p.records]
    references = {url: pid for p in parsed for url, pid in p.references.items()}
    mapping = map_resources(records, catalogue=catalogue, references=references)
    rejected = {r.key: r for r in mapping.rejected} | {r.key: r for r in _unlinked(mapping)}
    indices = _part_indices(mapping, rejected, len(files), first_index)
    patients, observations, others, sources = [], [], [], []
    for n, (file, content) in enumerate(zip(files, parsed, strict=True)):
        texts = {r.line: r.text for r in content.records}
        made = _stage_parts(con, file, content, n, indices, mapping, rejected, texts, derive_observations)
        patients += made["patients"]
        observations += made["observations"]
        others += made["records"]
        parts = tuple(s.index for kind in made.values() for s in kind)
        sources.append(FhirSource(file, content.sha256, content.size, len(content.records), parts))
    return FhirStaged(tuple(sources), tuple(patients), tuple(observations), tuple(others), bool(mapping.links))


def classify_fhir_records(con: duckdb.DuckDBPyConnection, staged: FhirStaged) -> None:
    """Create ``fhir_checked(file_idx, line, status, reason, field, detail)`` for the records parts.

    A rejected resource is quarantined with its reason; a Procedure merged into a patient row gets
    that row's status from ``pat_checked`` (and, if it is quarantined, its reason and field).

    Args:
        con: the ingest connection, after ``classify_patients`` when ``staged.linked``.
        staged: the staged FHIR files (with at least one records part).
    """
    union = " UNION ALL ".join(
        f"SELECT {f.index} AS file_idx, {PREFIX}line AS line, "
        + ", ".join(f"{PREFIX}{c} AS {c}" for c in _RECORD_COLUMNS) + f" FROM {f.relation}"
        for f in staged.records
    )
    patients = "pat_checked" if staged.linked else "(SELECT NULL::INTEGER AS file_idx, NULL::BIGINT AS line, " \
        "NULL AS status, NULL AS reason, NULL AS field, NULL AS detail, NULL AS patient_id LIMIT 0)"
    reason, field = reason_sql("'patient'")
    con.execute(f"""
CREATE OR REPLACE TEMP TABLE fhir_checked AS
SELECT r.file_idx, r.line,
    CASE WHEN r.reason IS NULL AND p.status IS NOT NULL THEN p.status ELSE 'quarantined' END AS status,
    CASE WHEN r.reason IS NOT NULL THEN r.reason WHEN p.status IS NULL THEN {reason} ELSE p.reason END AS reason,
    CASE WHEN r.reason IS NOT NULL THEN r.field WHEN p.status IS NULL THEN {field} ELSE p.field END AS field,
    CASE WHEN r.reason IS NOT NULL THEN r.detail
         WHEN p.status IS NULL THEN 'the patient row it belongs to is missing'
         ELSE format('its Patient {{}} (line {{}}) is quarantined: {{}}', p.patient_id, p.line, p.detail) END
        AS detail
FROM ({union}) r
LEFT JOIN {patients} p ON p.file_idx = r.link_idx AND p.line = r.link_line""")


def _unlinked(mapping: FhirMapping) -> list[Rejection]:
    """Procedures whose Patient is not in the batch: a FHIR patient row needs its Patient resource."""
    return [
        Rejection(p.key, "Procedure", p.procedure_id, "unknown patient", "patient_id",
                  f"no valid Patient/{p.patient_id} resource in this ingest (a patient row is built from the "
                  "Patient and its Procedures, sent together)")
        for p in mapping.unlinked_procedures
    ]


def _part_indices(
    mapping: FhirMapping, rejected: dict[Key, Rejection], files: int, first_index: int,
) -> dict[tuple[int, str], int]:
    """(file position, part) -> batch file index, for the parts that have rows, in file order."""
    has = {(k[0], "patients") for k in (r.key for r in mapping.patients)}
    has |= {(k[0], "observations") for k in (r.key for r in mapping.observations)}
    has |= {(k[0], "records") for k in (*rejected, *mapping.links)}
    order = [(n, part) for n in range(files) for part in ("patients", "observations", "records") if (n, part) in has]
    return {key: first_index + i for i, key in enumerate(order)}


def _stage_parts(
    con: duckdb.DuckDBPyConnection, file: RegistryFile, content: FhirFile, n: int, indices: dict[tuple[int, str], int],
    mapping: FhirMapping, rejected: dict[Key, Rejection], texts: dict[int, str],
    derive_observations: Callable[[StagedFile], str],
) -> dict[str, list[StagedFile]]:
    """Create the temporary tables of file ``n``'s parts."""
    def stage(part: str, rows: dict[str, list[Any]], derive: Callable[[StagedFile], str] | None = None) -> list[StagedFile]:
        if (n, part) not in indices:
            return []
        return [_create(con, indices[(n, part)], file, content, rows, derive)]

    own = [r for r in mapping.patients if r.key[0] == n]
    patients = {c: [getattr(r, c) for r in own] for c in _PATIENT_COLUMNS} | _meta([r.key for r in own], texts)
    obs = [r for r in mapping.observations if r.key[0] == n]
    observations = {c: [getattr(r, c) for r in obs] for c in _OBSERVATION_COLUMNS} | _meta([r.key for r in obs], texts)
    observations |= {f"{PREFIX}original_value": [r.original_value for r in obs],
                     f"{PREFIX}original_unit": [r.original_unit for r in obs]}
    return {
        "patients": stage("patients", patients),
        "observations": stage("observations", observations, derive_observations),
        "records": stage("records", _records(n, indices, mapping, rejected, texts)),
    }


def _records(
    n: int, indices: dict[tuple[int, str], int], mapping: FhirMapping, rejected: dict[Key, Rejection],
    texts: dict[int, str],
) -> dict[str, list[Any]]:
    """The records part of file ``n``: its rejected resources and its Procedures merged into a patient row."""
    keys = sorted(k for k in (*rejected, *mapping.links) if k[0] == n)
    columns: dict[str, list[Any]] = {f"{PREFIX}{c}": [] for c in _RECORD_COLUMNS}
    for key in keys:
        r, link = rejected.get(key), mapping.links.get(key)
        columns[f"{PREFIX}reason"].append(r.reason if r else None)
        columns[f"{PREFIX}field"].append(r.field if r else None)
        columns[f"{PREFIX}detail"].append(r.detail if r else None)
        columns[f"{PREFIX}link_idx"].append(indices[(link[0], "patients")] if link and not r else None)
        columns[f"{PREFIX}link_line"].append(link[1] if link and not r else None)
    return columns | _meta(keys, texts)


def _meta(keys: list[Key], texts: dict[int, str]) -> dict[str, list[Any]]:
    return {f"{PREFIX}line": [k[1] for k in keys], f"{PREFIX}original": [texts[k[1]] for k in keys]}


_TYPES = {f"{PREFIX}line": pa.int64(), f"{PREFIX}link_idx": pa.int32(), f"{PREFIX}link_line": pa.int64()}


def _create(
    con: duckdb.DuckDBPyConnection, index: int, file: RegistryFile, content: FhirFile, rows: dict[str, list[Any]],
    derive: Callable[[StagedFile], str] | None,
) -> StagedFile:
    """Load one part into ``raw_<index>`` (text columns, ``PREFIX`` columns for line and original)."""
    relation, names = f"raw_{index}", tuple(rows)
    staged = StagedFile(index, file, relation, names, len(rows[f"{PREFIX}line"]), 0, content.sha256, content.size,
                        line_column=f"{PREFIX}line", original=f"r.{PREFIX}original")
    table = pa.table({name: pa.array(values, type=_TYPES.get(name, pa.string())) for name, values in rows.items()})
    extra = derive(staged) if derive else ""
    source = f"fhir_source_{index}"
    con.register(source, table)
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {relation} AS SELECT *{', ' + extra if extra else ''} FROM {source}")
    finally:
        con.unregister(source)
    return staged
