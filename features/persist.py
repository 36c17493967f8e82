"""Write a classified batch into the store: accepted rows, replaced current rows, quarantine.

Every function here runs inside the ingest transaction and reads the classified temporary tables
or views made by the validate modules plus ``batch_files(file_idx, file_name, sha256, table_name)``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import duckdb

from .readers import StagedFile, quote
from .sql import one_row

TOP_REASONS = 3


@dataclass(frozen=True)
class FileCounts:
    """What happened to the rows of one file."""

    new: int = 0
    stored: int = 0
    updated: int = 0
    quarantined: int = 0
    reasons: tuple[tuple[str, str, int], ...] = ()
    """Most frequent (reason, field, rows), at most ``TOP_REASONS``, most frequent first."""


def merge_counts(parts: list[FileCounts]) -> FileCounts:
    """The counts of one file staged in several parts (a FHIR file): sums, and the top reasons overall.

    Args:
        parts: the counts of each part.
    """
    reasons: Counter[tuple[str, str]] = Counter()
    for part in parts:
        reasons.update({(reason, field): rows for reason, field, rows in part.reasons})
    top = sorted(reasons.items(), key=lambda item: (-item[1], item[0]))[:TOP_REASONS]
    return FileCounts(
        new=sum(p.new for p in parts),
        stored=sum(p.stored for p in parts),
        updated=sum(p.updated for p in parts),
        quarantined=sum(p.quarantined for p in parts),
        reasons=tuple((r, f, n) for (r, f), n in top),
    )


def create_batch_files(
    con: duckdb.DuckDBPyConnection,
    staged: list[StagedFile],
    others: list[tuple[int, str, str, str]] | None = None,
) -> None:
    """Create the temporary ``batch_files`` table naming each staged file.

    Args:
        con: the ingest connection.
        staged: every staged (table) file of the batch.
        others: (file index, path, sha256, table) of files staged otherwise (FHIR files).
    """
    con.execute(
        "CREATE OR REPLACE TEMP TABLE batch_files (file_idx INTEGER, file_name VARCHAR, "
        "sha256 VARCHAR, table_name VARCHAR)"
    )
    con.executemany(
        "INSERT INTO batch_files VALUES (?, ?, ?, ?)",
        [(f.index, str(f.file.path), f.sha256, f.file.table) for f in staged] + list(others or []),
    )


def apply_keyed(
    con: duckdb.DuckDBPyConnection, checked: str, table: str, values: tuple[str, ...], ingest_id: int
) -> None:
    """Insert new rows, replace updated ones (current table) and append both to the history.

    Args:
        con: the ingest connection.
        checked: the classified temporary table (``pat_checked`` or ``outcomes_checked``).
        table: ``patients`` or ``outcomes``.
        values: the data columns after patient_id.
        ingest_id: this ingest.
    """
    columns = ", ".join(("patient_id", *values))
    rows = f"""SELECT {columns}, f.file_name, c.line, {int(ingest_id)}
               FROM {checked} c JOIN batch_files f USING (file_idx)
               WHERE c.status IN ('new', 'updated')"""
    con.execute(
        f"DELETE FROM {table} WHERE patient_id IN (SELECT patient_id FROM {checked} WHERE status = 'updated')"
    )
    con.execute(f"INSERT INTO {table} {rows}")
    con.execute(f"INSERT INTO {table}_history {rows}")


def apply_observations(con: duckdb.DuckDBPyConnection, ingest_id: int) -> int:
    """Append the new observation reports: the ``obs_values`` rows that are not in ``obs_exceptions``.

    The insert runs without insertion-order preservation: the rows need no order, and DuckDB
    can then write them in parallel straight to the file.

    Args:
        con: the ingest connection.
        ingest_id: this ingest.

    Returns:
        The number of rows inserted.
    """
    con.execute("SET preserve_insertion_order = false")
    try:
        inserted = one_row(
            con,
            f"""
INSERT INTO observations
SELECT patient_id, biomarker, modality, value, value_text, unit, original_value, original_unit,
       collected_at, reported_at, reference_high, f.file_name, v.line, {int(ingest_id)}
FROM obs_values v JOIN batch_files f USING (file_idx)
ANTI JOIN obs_exceptions e ON e.file_idx = v.file_idx AND e.line = v.line""",
        )[0]
    finally:
        con.execute("SET preserve_insertion_order = true")
    return int(inserted)


def write_quarantine(
    con: duckdb.DuckDBPyConnection, checked: str, staged: list[StagedFile], ingest_id: int
) -> None:
    """Store the quarantined rows with their original text, unless already quarantined alike.

    A row is already quarantined alike when the store holds the same file content (hash), line,
    reason and field: re-ingesting a file does not duplicate its quarantine rows.

    Args:
        con: the ingest connection.
        checked: the classified temporary table.
        staged: the files whose rows are in ``checked``.
        ingest_id: this ingest.
    """
    for f in staged:
        cells = "{" + ", ".join(f"{_sql_string(c)}: r.{quote(c)}" for c in f.columns) + "}"
        original = f.original or f"CAST(to_json({cells}) AS VARCHAR)"
        same_file = f" AND {f.file_idx_of('r')} = c.file_idx" if f.file_column else ""
        files = ", ".join(str(i) for i in f.rows_by_file())
        con.execute(f"""
INSERT INTO quarantine
SELECT {int(ingest_id)}, b.file_name, b.sha256, c.line, b.table_name, {original},
       c.reason, c.field, c.detail
FROM {checked} c
JOIN {f.relation} r ON {f.line_of("r")} = c.line{same_file}
JOIN batch_files b ON b.file_idx = c.file_idx
WHERE c.file_idx IN ({files}) AND c.status = 'quarantined'
  AND NOT EXISTS (SELECT 1 FROM quarantine q WHERE q.source_sha256 = b.sha256 AND q.source_line = c.line
                  AND q.reason = c.reason AND q.field = c.field)""")


def count_rows(
    con: duckdb.DuckDBPyConnection, checked: str, staged: list[StagedFile], top: int | None = TOP_REASONS
) -> dict[int, FileCounts]:
    """Per file index: rows by status and the top quarantine reasons.

    ``checked`` must hold every row that is not new (it may hold the new ones too): new rows are
    counted as the file's rows minus the others.

    Args:
        con: the ingest connection.
        checked: the classified temporary table.
        staged: the files whose rows are in ``checked``.
        top: how many reasons to keep per file (None: all, for counts merged later).
    """
    read = {i: n for f in staged for i, n in f.rows_by_file().items()}
    statuses: dict[int, Counter[str]] = {i: Counter() for i in read}
    for file_idx, status, rows in con.execute(
        f"SELECT file_idx, status, count(*) FROM {checked} WHERE status <> 'new' GROUP BY ALL"
    ).fetchall():
        statuses[file_idx][status] = rows
    reasons: dict[int, list[tuple[str, str, int]]] = {}
    for file_idx, reason, field, rows in con.execute(
        f"""SELECT file_idx, reason, field, count(*) AS n FROM {checked} WHERE status = 'quarantined'
            GROUP BY ALL ORDER BY file_idx, n DESC, reason, field"""
    ).fetchall():
        reasons.setdefault(file_idx, []).append((reason, field, rows))
    return {
        i: FileCounts(
            new=n - sum(statuses[i].values()),
            stored=statuses[i]["stored"],
            updated=statuses[i]["updated"],
            quarantined=statuses[i]["quarantined"],
            reasons=tuple(reasons.get(i, [])[:top]),
        )
        for i, n in read.items()
    }


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
