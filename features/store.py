"""The feature store: one embedded DuckDB file (``data/store.duckdb`` by default).

Tables (``SCHEMA`` below is the exact DDL):

* ``patients`` holds the current row of each patient; ``patients_history`` every distinct version
  ever ingested (the current one included), so a corrected row in a later ingest replaces the
  current one without losing the old.
* ``outcomes`` / ``outcomes_history``: the same design for the follow-up rows.
* ``observations``: one row per stored report of one biomarker observation. ``value`` is in the
  catalogue's canonical unit (bool as 0/1, NULL for categories, whose level is in ``value_text``);
  ``original_value`` / ``original_unit`` keep the text as it was in the file. An observation is
  (patient_id, biomarker, collected_at); each report of it has its own ``reported_at``, and the
  ingest keeps (patient_id, biomarker, collected_at, reported_at) unique.
* ``quarantine``: rejected rows with file, content hash, line (1 = header), the original row as a
  JSON object of text values, the reason, the field at fault and a readable detail.
* ``ingests`` / ``ingest_files``: one row per ingest and per file read (content hash and counts).
* ``store_meta``: ``schema_version``.

There are no secondary indexes: every read is a set-based scan, and an index would slow the bulk
loads. ``patients`` and ``outcomes`` keep a primary key (small tables).

Memory: DuckDB holds its working data (staged files, sorts, joins) in a buffer pool capped by its
``memory_limit`` (by default 80% of the machine's RAM) and spills beyond it to ``<store>.tmp``;
set ``CART_RELAPSE_STORE_MEMORY_LIMIT`` (e.g. ``4GB``) to cap it lower. Ingest and point-in-time
retrieval use only operators that spill, so they finish under any limit (slower when they spill);
the frames returned to Python come on top.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd

from .errors import RegistryError

SCHEMA_VERSION = "1"

STORAGE_VERSION = "v1.3.0"
"""DuckDB storage format of a store this code creates: v1.3.0 and later write strings about 25%
faster (and read them faster) than the default v1.0.0 format; the file then needs DuckDB >= 1.3 to
open (the project pins 1.4). A store created earlier keeps its format."""

_PATIENT_COLUMNS = """
    patient_id VARCHAR NOT NULL,
    center VARCHAR NOT NULL,
    sex VARCHAR,
    age DOUBLE,
    product VARCHAR NOT NULL,
    apheresis_date DATE NOT NULL,
    infusion_date DATE,
    source_file VARCHAR NOT NULL,
    source_line BIGINT NOT NULL,
    ingest_id INTEGER NOT NULL"""

_OUTCOME_COLUMNS = """
    patient_id VARCHAR NOT NULL,
    progression_date DATE,
    death_date DATE,
    last_followup_date DATE NOT NULL,
    source_file VARCHAR NOT NULL,
    source_line BIGINT NOT NULL,
    ingest_id INTEGER NOT NULL"""

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS store_meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS ingests (
    ingest_id INTEGER PRIMARY KEY,
    started_at TIMESTAMP NOT NULL,          -- UTC
    finished_at TIMESTAMP NOT NULL,         -- UTC
    directory VARCHAR NOT NULL,
    catalogue_sha256 VARCHAR NOT NULL,
    rows_read BIGINT NOT NULL,
    rows_new BIGINT NOT NULL,
    rows_stored BIGINT NOT NULL,            -- accepted, already in the store unchanged
    rows_updated BIGINT NOT NULL,           -- accepted, replaced a patient or outcome row
    rows_quarantined BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS ingest_files (
    ingest_id INTEGER NOT NULL,
    file VARCHAR NOT NULL,
    table_name VARCHAR NOT NULL,
    format VARCHAR NOT NULL,                -- csv | parquet
    sha256 VARCHAR NOT NULL,
    bytes BIGINT NOT NULL,
    rows_read BIGINT NOT NULL,
    rows_new BIGINT NOT NULL,
    rows_stored BIGINT NOT NULL,
    rows_updated BIGINT NOT NULL,
    rows_quarantined BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS patients ({_PATIENT_COLUMNS}, PRIMARY KEY (patient_id));
CREATE TABLE IF NOT EXISTS patients_history ({_PATIENT_COLUMNS});
CREATE TABLE IF NOT EXISTS outcomes ({_OUTCOME_COLUMNS}, PRIMARY KEY (patient_id));
CREATE TABLE IF NOT EXISTS outcomes_history ({_OUTCOME_COLUMNS});
CREATE TABLE IF NOT EXISTS observations (
    patient_id VARCHAR NOT NULL,
    biomarker VARCHAR NOT NULL,
    modality VARCHAR NOT NULL,
    value DOUBLE,                           -- canonical unit; bool 0/1; NULL for categories
    value_text VARCHAR,                     -- category level; NULL otherwise
    unit VARCHAR NOT NULL,                  -- canonical unit ('' for unitless)
    original_value VARCHAR NOT NULL,
    original_unit VARCHAR,
    collected_at TIMESTAMP NOT NULL,
    reported_at TIMESTAMP NOT NULL,         -- collected_at when the file had none
    reference_high DOUBLE,                  -- canonical unit
    source_file VARCHAR NOT NULL,
    source_line BIGINT NOT NULL,
    ingest_id INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS quarantine (
    ingest_id INTEGER NOT NULL,
    source_file VARCHAR NOT NULL,
    source_sha256 VARCHAR NOT NULL,
    source_line BIGINT NOT NULL,            -- 1 = header; Parquet rows are numbered the same way
    table_name VARCHAR NOT NULL,
    original_row VARCHAR NOT NULL,          -- JSON object: column -> text as read
    reason VARCHAR NOT NULL,
    field VARCHAR NOT NULL,
    detail VARCHAR NOT NULL
);
INSERT OR IGNORE INTO store_meta VALUES ('schema_version', '{SCHEMA_VERSION}');
"""

TABLES = (
    "store_meta",
    "ingests",
    "ingest_files",
    "patients",
    "patients_history",
    "outcomes",
    "outcomes_history",
    "observations",
    "quarantine",
)

MEMORY_LIMIT_ENV = "CART_RELAPSE_STORE_MEMORY_LIMIT"
"""Environment variable: DuckDB's memory limit for every store connection (``4GB``, ``1.5GiB``)."""

StoreLike = Path | str | duckdb.DuckDBPyConnection


def open_store(path: Path | str, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the store file, creating it and its schema when writable and missing.

    Args:
        path: the DuckDB file.
        read_only: open without the write lock (readers may share a store; a writer may not).

    Returns:
        An open connection (usable as a context manager, which closes it).

    Raises:
        RegistryError: the store is locked by another process, missing (read-only), not a DuckDB
            file, or of another schema version; or ``CART_RELAPSE_STORE_MEMORY_LIMIT`` is not a size.
    """
    path = Path(path)
    if read_only and not path.exists():
        raise RegistryError(f"no feature store at {path}; run `cart-relapse ingest` first")
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        config: dict[str, str | bool | int | float | list[str]] = (
            {} if read_only else {"storage_compatibility_version": STORAGE_VERSION}
        )
        con = duckdb.connect(str(path), read_only=read_only, config=config | _memory_config())
    except duckdb.Error as exc:
        raise RegistryError(_open_error(path, exc)) from None
    try:
        if not read_only:
            con.execute(SCHEMA)
        _check_schema(con, path)
    except BaseException:
        con.close()
        raise
    return con


def read_patients(store: StoreLike) -> pd.DataFrame:
    """Current patients: id, center, sex, age, product and the two dates (pandas datetimes).

    Args:
        store: a store path or an open connection.
    """
    sql = """SELECT patient_id, center, sex, age, product, apheresis_date, infusion_date
             FROM patients ORDER BY patient_id"""
    with _connection(store) as con:
        frame = con.execute(sql).df()
    return _as_datetimes(frame, ["apheresis_date", "infusion_date"])


def read_outcomes(store: StoreLike) -> pd.DataFrame:
    """Current outcome of each patient who has one, with the patient's centre, product and dates.

    Args:
        store: a store path or an open connection.

    Returns:
        patient_id, center, product, apheresis_date, infusion_date, progression_date, death_date,
        last_followup_date; dates as pandas datetimes (NaT when empty).
    """
    sql = """SELECT o.patient_id, p.center, p.product, p.apheresis_date, p.infusion_date,
                    o.progression_date, o.death_date, o.last_followup_date
             FROM outcomes o JOIN patients p USING (patient_id) ORDER BY o.patient_id"""
    with _connection(store) as con:
        frame = con.execute(sql).df()
    dates = ["apheresis_date", "infusion_date", "progression_date", "death_date", "last_followup_date"]
    return _as_datetimes(frame, dates)


def read_quarantine(store: StoreLike) -> pd.DataFrame:
    """Every quarantined row, oldest ingest first, then by file and line.

    Args:
        store: a store path or an open connection.
    """
    sql = """SELECT ingest_id, source_file, source_sha256, source_line, table_name, original_row,
                    reason, field, detail
             FROM quarantine ORDER BY ingest_id, source_file, source_line, reason"""
    with _connection(store) as con:
        return con.execute(sql).df()


@contextmanager
def _connection(store: StoreLike) -> Iterator[duckdb.DuckDBPyConnection]:
    """Yield ``store`` itself if it is a connection, else a read-only connection closed after."""
    if isinstance(store, duckdb.DuckDBPyConnection):
        yield store
        return
    con = open_store(store, read_only=True)
    try:
        yield con
    finally:
        con.close()


def _memory_config() -> dict[str, str]:
    """``memory_limit`` from ``CART_RELAPSE_STORE_MEMORY_LIMIT`` when set (not empty)."""
    limit = os.environ.get(MEMORY_LIMIT_ENV, "").strip()
    return {"memory_limit": limit} if limit else {}


def _open_error(path: Path, exc: duckdb.Error) -> str:
    text = str(exc)
    if "memory limit" in text.lower() and os.environ.get(MEMORY_LIMIT_ENV, "").strip():
        setting = os.environ[MEMORY_LIMIT_ENV]
        return f"{MEMORY_LIMIT_ENV}={setting!r} is not a size such as 4GB ({text.splitlines()[0]})"
    if "lock" in text.lower():
        pid = re.search(r"PID (\d+)", text)
        holder = f" (PID {pid.group(1)})" if pid else ""
        return (
            f"feature store {path} is locked by another process{holder}; "
            "wait for it to finish or close it, then retry"
        )
    if "not a valid DuckDB database" in text:
        return f"{path} is not a DuckDB feature store"
    return f"cannot open feature store {path}: {text}"


def _check_schema(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    present = {
        r[0]
        for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
            " AND schema_name = 'main'"
        ).fetchall()
    }
    missing = [t for t in TABLES if t not in present]
    if missing:
        raise RegistryError(
            f"{path} is not a cart-relapse feature store (missing tables: {', '.join(missing)})"
        )
    version = con.execute("SELECT value FROM store_meta WHERE key = 'schema_version'").fetchone()
    if version is None or version[0] != SCHEMA_VERSION:
        found = version[0] if version else "none"
        raise RegistryError(f"{path}: store schema version {found}, this code needs {SCHEMA_VERSION}")


def _as_datetimes(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    for column in columns:
        frame[column] = pd.to_datetime(frame[column]).astype("datetime64[ns]")
    return frame
