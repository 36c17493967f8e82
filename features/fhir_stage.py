"""Stage the FHIR files of an ingest: read them, map them (``features.fhir``), load the rows as text.

All FHIR files of a batch are mapped together (a Patient and its Procedures may be in different
files). Each FHIR file has its own batch file index (file name and hash in ``batch_files``); the
rows of all of them are staged in three temporary tables, each row with its file index
(``PREFIX + "file"``), its line (``PREFIX + "line"``: the Bundle entry index or NDJSON line) and
its resource's JSON text (``PREFIX + "original"``, the quarantine's original row):

* ``fhir_patients``: the Patient rows (registry ``patients`` columns), validated with the patients file;
* ``fhir_observations``: the Observation rows (registry observation columns), validated with the
  observation files;
* ``fhir_records``: every other resource read, with its outcome: rejected by the mapping (reason,
  field, detail), or a Procedure merged into a patient row, which takes that row's status
  (``classify_fhir_records``, once the patients are classified).

So a file's resources read = accepted + quarantined over the three tables.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import duckdb

from .catalogue import Catalogue
from .fhir_rows import FhirMapping, Key, Rejection
from .readers import COLUMNS, PREFIX, RegistryFile, StagedFile
from .validate import reason_sql

FileKey = tuple[int, int]
"""How ingest keys a FHIR resource: (file index, line)."""

if TYPE_CHECKING:
    from collections.abc import Callable

_PATIENT_COLUMNS = COLUMNS["patients"][0]
_OBSERVATION_COLUMNS = COLUMNS["clinical"][0] + COLUMNS["clinical"][1]
_RECORD_COLUMNS = ("reason", "field", "detail", "link_idx", "link_line")
_INTEGERS = {
    f"{PREFIX}file": "int32",
    f"{PREFIX}line": "int64",
    f"{PREFIX}link_idx": "int32",
    f"{PREFIX}link_line": "int64",
}
"""The integer columns (Arrow type names); every other column is text."""


@dataclass(frozen=True)
class FhirSource:
    """One FHIR file of the batch: its batch file index, hash and size, and its resources read."""

    file: RegistryFile
    index: int
    sha256: str
    size: int
    read: int


@dataclass(frozen=True)
class FhirStaged:
    """The staged FHIR files of a batch (a part is absent when no file has rows of its kind)."""

    sources: tuple[FhirSource, ...] = ()
    patients: tuple[StagedFile, ...] = ()
    observations: tuple[StagedFile, ...] = ()
    records: tuple[StagedFile, ...] = ()
    linked: bool = False
    """Some Procedure was merged into a patient row (its status comes from ``pat_checked``)."""


def stage_fhir(
    con: duckdb.DuckDBPyConnection,
    files: list[RegistryFile],
    *,
    first_index: int,
    catalogue: Catalogue,
    derive_observations: Callable[[StagedFile], str],
) -> FhirStaged:
    """Read, map and stage the FHIR files of a batch.

    Args:
        con: the ingest connection (before the transaction: temporary tables only).
        files: the batch's FHIR files, in order; file ``n`` gets batch file index ``first_index + n``.
        first_index: the batch file index of the first FHIR file (after the table files).
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
    records = [((first_index + n, r.line), r.resource) for n, p in enumerate(parsed) for r in p.records]
    texts = {(first_index + n, r.line): r.text for n, p in enumerate(parsed) for r in p.records}
    references = {url: pid for p in parsed for url, pid in p.references.items()}
    mapping = map_resources(records, catalogue=catalogue, references=references)
    rejected = {r.key: r for r in mapping.rejected} | {r.key: r for r in _unlinked(mapping)}
    first = files[0]
    patients = {c: [getattr(r, c) for r in mapping.patients] for c in _PATIENT_COLUMNS}
    observations = {c: [getattr(r, c) for r in mapping.observations] for c in _OBSERVATION_COLUMNS} | {
        f"{PREFIX}original_value": [r.original_value for r in mapping.observations],
        f"{PREFIX}original_unit": [r.original_unit for r in mapping.observations],
    }
    return FhirStaged(
        sources=tuple(
            FhirSource(f, first_index + n, p.sha256, p.size, len(p.records))
            for n, (f, p) in enumerate(zip(files, parsed, strict=True))
        ),
        patients=_stage(
            con,
            "fhir_patients",
            first,
            first_index,
            patients | _meta(_file_keys(r.key for r in mapping.patients), texts),
        ),
        observations=_stage(
            con,
            "fhir_observations",
            first,
            first_index,
            observations | _meta(_file_keys(r.key for r in mapping.observations), texts),
            derive_observations,
        ),
        records=_stage(con, "fhir_records", first, first_index, _records(mapping, rejected, texts)),
        linked=bool(mapping.links),
    )


def classify_fhir_records(con: duckdb.DuckDBPyConnection, staged: FhirStaged) -> None:
    """Create ``fhir_checked(file_idx, line, status, reason, field, detail)`` for the records parts.

    A rejected resource is quarantined with its reason; a Procedure merged into a patient row gets
    that row's status from ``pat_checked`` (and, if it is quarantined, its reason and field).

    Args:
        con: the ingest connection, after ``classify_patients`` when ``staged.linked``.
        staged: the staged FHIR files (with at least one records part).
    """
    union = " UNION ALL ".join(
        f"SELECT {f.file_idx_of()} AS file_idx, {PREFIX}line AS line, "
        + ", ".join(f"{PREFIX}{c} AS {c}" for c in _RECORD_COLUMNS)
        + f" FROM {f.relation}"
        for f in staged.records
    )
    patients = (
        "pat_checked"
        if staged.linked
        else (
            "(SELECT NULL::INTEGER AS file_idx, NULL::BIGINT AS line, NULL AS status, NULL AS reason, "
            "NULL AS field, NULL AS detail, NULL AS patient_id LIMIT 0)"
        )
    )
    reason, field = reason_sql("'patient'")
    con.execute(f"""
CREATE OR REPLACE TEMP TABLE fhir_checked AS
SELECT r.file_idx, r.line,
    CASE WHEN r.reason IS NULL AND p.status IS NOT NULL THEN p.status ELSE 'quarantined' END AS status,
    CASE WHEN r.reason IS NOT NULL THEN r.reason WHEN p.status IS NULL THEN {reason} ELSE p.reason END
        AS reason,
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
        Rejection(
            p.key,
            "Procedure",
            p.procedure_id,
            "unknown patient",
            "patient_id",
            f"no valid Patient/{p.patient_id} resource in this ingest (a patient row is built from the "
            "Patient and its Procedures, sent together)",
        )
        for p in mapping.unlinked_procedures
    ]


def _records(
    mapping: FhirMapping,
    rejected: dict[Key, Rejection],
    texts: dict[FileKey, str],
) -> dict[str, list[Any]]:
    """The rejected resources and the Procedures merged into a patient row, with their outcome."""
    links = cast("dict[FileKey, FileKey]", mapping.links)  # ingest's keys, as in _file_keys
    keys = sorted(_file_keys({*rejected, *links}))
    columns: dict[str, list[Any]] = {f"{PREFIX}{c}": [] for c in _RECORD_COLUMNS}
    for key in keys:
        r, link = rejected.get(key), links.get(key)
        columns[f"{PREFIX}reason"].append(r.reason if r else None)
        columns[f"{PREFIX}field"].append(r.field if r else None)
        columns[f"{PREFIX}detail"].append(r.detail if r else None)
        columns[f"{PREFIX}link_idx"].append(link[0] if link and not r else None)
        columns[f"{PREFIX}link_line"].append(link[1] if link and not r else None)
    return columns | _meta(keys, texts)


def _meta(keys: list[FileKey], texts: dict[FileKey, str]) -> dict[str, list[Any]]:
    """The file index, line and original JSON text of each row's resource."""
    return {
        f"{PREFIX}file": [k[0] for k in keys],
        f"{PREFIX}line": [k[1] for k in keys],
        f"{PREFIX}original": [texts[k] for k in keys],
    }


def _stage(
    con: duckdb.DuckDBPyConnection,
    relation: str,
    first: RegistryFile,
    first_index: int,
    rows: dict[str, list[Any]],
    derive: Callable[[StagedFile], str] | None = None,
) -> tuple[StagedFile, ...]:
    """Load rows of several files into ``relation`` (text columns and the ``PREFIX`` columns); () if none."""
    files = Counter(rows[f"{PREFIX}file"])
    if not files:
        return ()
    staged = StagedFile(
        first_index,
        first,
        relation,
        tuple(rows),
        sum(files.values()),
        0,
        "",
        0,
        line_column=f"{PREFIX}line",
        original=f"r.{PREFIX}original",
        file_column=f"{PREFIX}file",
        file_rows=tuple(sorted(files.items())),
    )
    import pyarrow as pa  # only when there are FHIR files

    table = pa.table(
        {
            name: pa.array(values, type=pa.type_for_alias(_INTEGERS.get(name, "string")))
            for name, values in rows.items()
        }
    )
    extra = derive(staged) if derive else ""
    source = f"{relation}_source"
    con.register(source, table)
    try:
        select = f"SELECT *{', ' + extra if extra else ''} FROM {source}"
        con.execute(f"CREATE OR REPLACE TEMP TABLE {relation} AS {select}")
    finally:
        con.unregister(source)
    return (staged,)


def _file_keys(keys: Iterable[Key]) -> list[FileKey]:
    """The keys of resources read by ingest: :func:`stage_fhir` keys every one with (file index, line)."""
    return cast("list[FileKey]", list(keys))
