"""Ingest one registry folder into the feature store, as one transaction.

Steps: find the files, open the store, stage every file as text in temporary tables (before the
transaction: a file that cannot be parsed stops everything early; FHIR files are mapped to
registry rows first, ``features.fhir_stage``), then inside a single transaction classify patients
(and apply them), the other FHIR resources, outcomes, then observations, write the quarantine and
the ingest record, and commit. Any error (a file that cannot be parsed, an interrupt) rolls the whole
ingest back, so the store is exactly as before; a killed process leaves an uncommitted transaction
that DuckDB discards on the next open.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from .catalogue import Catalogue, load_catalogue
from .fhir_stage import FhirStaged, classify_fhir_records, stage_fhir
from .lookup import register_catalogue
from .persist import (
    FileCounts,
    apply_keyed,
    apply_observations,
    count_rows,
    create_batch_files,
    merge_counts,
    write_quarantine,
)
from .readers import FHIR_TABLE, OBSERVATION_TABLES, RegistryFile, StagedFile, find_registry_files, stage_file
from .report import FileReport, IngestReport
from .sql import one_row
from .store import open_store
from .validate import install_macros
from .validate_observations import classify_observations, parse_columns
from .validate_patients import OUTCOME_VALUES, PATIENT_VALUES, classify_outcomes, classify_patients


def ingest_directory(directory: Path, *, store: Path, catalogue: Catalogue | None = None) -> IngestReport:
    """Validate the registry files of ``directory`` and load them into ``store``.

    Args:
        directory: a folder with ``patients``, ``outcomes``, ``clinical``, ``imaging``, ``ctdna``
            and/or ``cellular`` as ``.csv`` or ``.parquet``, and/or FHIR R4 ``*.json`` Bundles and
            ``*.ndjson`` files (docs/data-format.md, docs/fhir.md).
        store: the DuckDB store file (created if missing).
        catalogue: the biomarker catalogue (the packaged one by default).

    Returns:
        The report; rows that failed validation are in the store's quarantine table.

    Raises:
        RegistryError: no registry files, a locked store; FileFormatError (a RegistryError) for a
            file that cannot be parsed. The store is then unchanged.
    """
    directory, store = Path(directory), Path(store)
    files = find_registry_files(directory)
    catalogue = catalogue or load_catalogue()
    existed = store.exists()
    started, clock = datetime.now(UTC).replace(tzinfo=None), time.perf_counter()
    con = open_store(store)
    try:
        staged, fhir = _stage(con, files, catalogue)
        con.execute("BEGIN TRANSACTION")
        try:
            report = _ingest(con, staged, fhir, catalogue, directory, store, started, clock)
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
        report = replace(report, seconds=time.perf_counter() - clock)
    except BaseException:
        _close_after_failure(con, store, maybe_created=not existed)
        raise
    con.close()
    return report


def _stage(
    con: duckdb.DuckDBPyConnection, files: list[RegistryFile], catalogue: Catalogue
) -> tuple[list[StagedFile], FhirStaged]:
    """Read every file into temporary tables, parsing observation files (and mapping FHIR files) on the way.

    Runs before the transaction starts: temporary tables are never written to the store, and a
    file that cannot be parsed stops the ingest before anything else happens.
    """
    con.execute("SET preserve_insertion_order = true")
    # FSST string compression costs ~10% of the insert time for no smaller file on this data
    # (dictionary compression wins); the setting lasts as long as this connection.
    con.execute("SET disabled_compression_methods = 'fsst'")
    install_macros(con)
    register_catalogue(con, catalogue)
    tables = [f for f in files if f.table != FHIR_TABLE]
    staged = [
        stage_file(con, f, i, parse_columns if f.table in OBSERVATION_TABLES else None)
        for i, f in enumerate(tables)
    ]
    fhir = [f for f in files if f.table == FHIR_TABLE]
    if not fhir:
        return staged, FhirStaged()
    return staged, stage_fhir(
        con, fhir, first_index=len(staged), catalogue=catalogue, derive_observations=parse_columns
    )


def _ingest(
    con: duckdb.DuckDBPyConnection,
    staged: list[StagedFile],
    fhir: FhirStaged,
    catalogue: Catalogue,
    directory: Path,
    store: Path,
    started: datetime,
    clock: float,
) -> IngestReport:
    ingest_id = one_row(con, "SELECT coalesce(max(ingest_id), 0) + 1 FROM ingests")[0]
    fhir_files = [(f.index, str(f.file.path), f.sha256, f.file.table) for f in fhir.sources]
    create_batch_files(con, staged, fhir_files)
    counts = _load_batch(con, staged, fhir, catalogue, ingest_id)
    reports = tuple(
        FileReport(s.file.path, s.file.table, s.rows, merge_counts(counts.get(s.index, []))) for s in staged
    ) + tuple(
        FileReport(f.file.path, f.file.table, f.read, merge_counts(counts.get(f.index, [])))
        for f in fhir.sources
    )
    for r in reports:
        if r.read != r.accepted + r.quarantined or min(r.counts.new, r.quarantined) < 0:
            raise AssertionError(
                f"{r.file}: {r.read} rows read but {r.accepted} + {r.quarantined} classified"
            )
    report = IngestReport(ingest_id, directory, store, reports, time.perf_counter() - clock)
    sources = [(s.file, s.sha256, s.size) for s in staged]
    sources += [(f.file, f.sha256, f.size) for f in fhir.sources]
    _record(con, report, sources, catalogue, started)
    return report


def _load_batch(
    con: duckdb.DuckDBPyConnection,
    staged: list[StagedFile],
    fhir: FhirStaged,
    catalogue: Catalogue,
    ingest_id: int,
) -> dict[int, list[FileCounts]]:
    """Classify and apply patients, the other FHIR resources, outcomes, then observations.

    Returns:
        Per batch file index, the counts of its rows in each table they were classified in (a FHIR
        file has rows in the patients, the other-resources and the observations classification).
    """
    counts: dict[int, list[FileCounts]] = {}

    def add(found: dict[int, FileCounts]) -> None:
        for index, part in found.items():
            counts.setdefault(index, []).append(part)

    by_table = {s.file.table: s for s in staged}
    patients = [by_table["patients"]] if "patients" in by_table else []
    if patients or fhir.patients:
        classify_patients(con, [*patients, *fhir.patients], catalogue)
        apply_keyed(con, "pat_checked", "patients", PATIENT_VALUES, ingest_id)
        add(_quarantine_and_count(con, "pat_checked", [*patients, *fhir.patients], ingest_id))
    if fhir.records:
        classify_fhir_records(con, fhir)
        add(_quarantine_and_count(con, "fhir_checked", list(fhir.records), ingest_id))
    if "outcomes" in by_table:
        outcomes = [by_table["outcomes"]]
        classify_outcomes(con, outcomes[0])
        apply_keyed(con, "outcomes_checked", "outcomes", OUTCOME_VALUES, ingest_id)
        add(_quarantine_and_count(con, "outcomes_checked", outcomes, ingest_id))
    observations = [s for s in staged if s.file.table in OBSERVATION_TABLES] + list(fhir.observations)
    if observations:
        classify_observations(con, observations)
        inserted = apply_observations(con, ingest_id)
        found = _quarantine_and_count(con, "obs_exceptions", observations, ingest_id)
        if inserted != sum(c.new for c in found.values()):
            raise AssertionError(
                f"{inserted} observations inserted, {sum(c.new for c in found.values())} expected"
            )
        add(found)
    return counts


def _quarantine_and_count(
    con: duckdb.DuckDBPyConnection, checked: str, staged: list[StagedFile], ingest_id: int
) -> dict[int, FileCounts]:
    """Write the quarantine rows of ``staged`` and count them.

    Every reason is counted: ``merge_counts`` keeps the top ones per file, over the parts of a FHIR file.
    """
    write_quarantine(con, checked, staged, ingest_id)
    return count_rows(con, checked, staged, top=None)


def _record(
    con: duckdb.DuckDBPyConnection,
    report: IngestReport,
    sources: list[tuple[RegistryFile, str, int]],
    catalogue: Catalogue,
    started: datetime,
) -> None:
    """Append the ingest and its files to ``ingests`` / ``ingest_files``."""
    finished = datetime.now(UTC).replace(tzinfo=None)
    totals = [sum(getattr(f.counts, k) for f in report.files) for k in ("new", "stored", "updated")]
    digest = hashlib.sha256(catalogue.model_dump_json().encode()).hexdigest()
    con.execute(
        "INSERT INTO ingests VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            report.ingest_id,
            started,
            finished,
            str(report.directory.resolve()),
            digest,
            report.read,
            *totals,
            report.quarantined,
        ],
    )
    con.executemany(
        "INSERT INTO ingest_files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            [
                report.ingest_id,
                str(file.path),
                file.table,
                file.fmt,
                sha256,
                size,
                r.read,
                r.counts.new,
                r.counts.stored,
                r.counts.updated,
                r.quarantined,
            ]
            for (file, sha256, size), r in zip(sources, report.files, strict=True)
        ],
    )


def _close_after_failure(con: duckdb.DuckDBPyConnection, store: Path, *, maybe_created: bool) -> None:
    """Close the store after a failed ingest, deleting it if this ingest created it (no trace left).

    The file not existing before the open is not proof enough: another process may have created
    and filled the store in between. So the store is deleted only when it holds no ingest at all,
    and it is unlinked while this connection still holds the lock (a process opening the path after
    that gets a new file, never one that is being deleted).
    """
    try:
        empty = maybe_created and one_row(con, "SELECT count(*) FROM ingests")[0] == 0
    except duckdb.Error:
        empty = False  # cannot tell: keep the file
    try:
        if empty:
            for path in (store, store.with_name(store.name + ".wal")):
                path.unlink(missing_ok=True)
    finally:
        con.close()
