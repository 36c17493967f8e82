"""Find the registry files of a folder and stage each one, as text, in a DuckDB temporary table.

FHIR files (``*.json``, ``*.ndjson``) are found here too; ``features.fhir_stage`` reads and stages them.

Staging reads every column as VARCHAR (Parquet columns are cast to text), so that validation sees
exactly what the file said and can quarantine a bad value instead of failing the whole file. The
line of a staged row is ``rowid - first_rowid + 2`` (1 is the header; rows staged inside a
transaction get row ids from a large base, hence the offset); Parquet rows are numbered the same
way. DuckDB appends in source order (``preserve_insertion_order``, set by the ingest), and the row
ids are checked to be contiguous.
A file that cannot be parsed at all raises ``FileFormatError`` naming the file and, where DuckDB
or the header check knows it, the line.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from .errors import FileFormatError, RegistryError
from .sql import one_row

OBSERVATION_TABLES = ("clinical", "imaging", "ctdna", "cellular")
TABLE_ORDER = ("patients", "outcomes", *OBSERVATION_TABLES)
FORMATS = {".csv": "csv", ".parquet": "parquet"}
FHIR_FORMATS = {".json": "json", ".ndjson": "ndjson"}
FHIR_TABLE = "fhir"
"""The ``table`` of a FHIR file: its resources feed patients and the observation tables."""
PREFIX = "__p_"
"""Names of columns derived while staging start with this."""
_HEADER_LIMIT = 1 << 20
"""A header record longer than this (bytes) is not looked at further."""

_OBSERVATION_COLUMNS = (
    ("patient_id", "biomarker", "value", "collected_at"),
    ("unit", "reported_at", "reference_high"),
)
COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "patients": (("patient_id", "center", "sex", "age", "product", "apheresis_date", "infusion_date"), ()),
    "outcomes": (("patient_id", "progression_date", "death_date", "last_followup_date"), ()),
    **dict.fromkeys(OBSERVATION_TABLES, _OBSERVATION_COLUMNS),
}
"""Per table: (required columns, optional columns). Other columns are kept in quarantine rows only."""


@dataclass(frozen=True)
class RegistryFile:
    """One file of a registry folder."""

    path: Path
    table: str
    fmt: str


@dataclass(frozen=True)
class StagedFile:
    """A file loaded into the temporary table ``relation`` (all VARCHAR, original column names).

    Rows mapped from FHIR files are staged differently: one relation holds the rows of several
    files, whose batch file index is in ``file_column`` (``index`` is then the first file's, and
    ``file`` the first file) and whose line is in ``line_column``.
    """

    index: int
    file: RegistryFile
    relation: str
    columns: tuple[str, ...]
    rows: int
    first_rowid: int
    sha256: str
    size: int
    line_column: str | None = None
    """A column holding each row's line (FHIR rows); None: derived from the row id (CSV, Parquet)."""
    original: str | None = None
    """SQL expression (over alias ``r``) of a quarantined row's original JSON text; None: the row's cells."""
    file_column: str | None = None
    """A column holding each row's batch file index (rows of several files); None: ``index``."""
    file_rows: tuple[tuple[int, int], ...] = ()
    """With ``file_column``: (file index, rows) of each file whose rows are staged here."""

    def has(self, column: str) -> bool:
        """Whether the staged table has ``column``."""
        return column in self.columns

    def rows_by_file(self) -> dict[int, int]:
        """Staged rows per batch file index."""
        return dict(self.file_rows) if self.file_column else {self.index: self.rows}

    def file_idx_of(self, alias: str = "") -> str:
        """SQL expression of a staged row's batch file index (columns qualified by ``alias``)."""
        if self.file_column:
            return (f"{alias}." if alias else "") + quote(self.file_column)
        return str(self.index)

    @property
    def line(self) -> str:
        """SQL expression of a staged row's line number (1 = header)."""
        return self.line_of()

    def line_of(self, alias: str = "") -> str:
        """``line`` with the relation's columns qualified by ``alias``."""
        prefix = f"{alias}." if alias else ""
        if self.line_column:
            return prefix + quote(self.line_column)
        return f"({prefix}rowid - {self.first_rowid} + 2)"


def find_registry_files(directory: Path) -> list[RegistryFile]:
    """The registry files of ``directory`` in load order (patients, outcomes, observation tables, FHIR).

    Args:
        directory: a folder holding ``<table>.csv`` or ``<table>.parquet`` files and/or FHIR
            ``*.json`` / ``*.ndjson`` files (any name; read in name order after the tables).

    Returns:
        The files found; other files are ignored.

    Raises:
        RegistryError: not a folder, no registry file in it, or one table given twice.
    """
    if not directory.is_dir():
        raise RegistryError(f"{directory} is not a folder of registry files")
    found: dict[str, RegistryFile] = {}
    fhir: list[RegistryFile] = []
    for path in sorted(directory.iterdir()):
        if not path.is_file():
            continue
        if path.suffix.lower() in FHIR_FORMATS:
            fmt = FHIR_FORMATS[path.suffix.lower()]
            fhir.append(RegistryFile(path=path.resolve(), table=FHIR_TABLE, fmt=fmt))
        table_fmt = FORMATS.get(path.suffix.lower())
        if table_fmt is None or path.stem not in COLUMNS:
            continue
        if path.stem in found:
            raise RegistryError(
                f"{directory}: table {path.stem} is given twice ({found[path.stem].path.name}, {path.name})"
            )
        found[path.stem] = RegistryFile(path=path.resolve(), table=path.stem, fmt=table_fmt)
    if not found and not fhir:
        names = ", ".join(f"{t}.csv" for t in TABLE_ORDER)
        raise RegistryError(
            f"{directory}: no registry files found (expected some of {names}, or .parquet, "
            "or FHIR .json/.ndjson files)"
        )
    return [found[t] for t in TABLE_ORDER if t in found] + fhir


def stage_file(
    con: duckdb.DuckDBPyConnection,
    file: RegistryFile,
    index: int,
    derive: Callable[[StagedFile], str] | None = None,
) -> StagedFile:
    """Load ``file`` into the temporary table ``raw_<index>``, every column as text.

    Args:
        con: an open connection (staging needs no transaction: temporary tables are never stored).
        file: the file to read.
        index: its position in the batch (names the temporary table).
        derive: optional extra select expressions over the text columns, computed in the same
            pass (given a preliminary ``StagedFile`` to know which columns exist); their names
            must start with ``PREFIX``.

    Returns:
        The staged file with its row count, content hash and size.

    Raises:
        FileFormatError: undecodable, ragged or unterminated CSV, unreadable Parquet, or a
            header with duplicate, empty or missing required columns.
    """
    relation = f"raw_{index}"
    if file.fmt == "csv":
        names = _csv_header(file.path)
        _check_columns(file, names)
        source = _csv_source(names)
    else:
        typed = _parquet_columns(con, file.path)
        names = tuple(name for name, _ in typed)
        _check_columns(file, names)
        source = _parquet_source(typed)
    extra = derive(StagedFile(index, file, relation, names, 0, 0, "", 0)) if derive else ""
    sql = f"CREATE OR REPLACE TEMP TABLE {relation} AS SELECT *{', ' + extra if extra else ''} FROM {source}"
    _read(con, sql, file)
    rows, first, last = one_row(con, f"SELECT count(*), min(rowid), max(rowid) FROM {relation}")
    if rows and last - first + 1 != rows:
        raise RuntimeError(f"{file.path}: staged row ids are not contiguous; line numbers would be wrong")
    digest, size = _sha256(file.path)
    return StagedFile(index, file, relation, names, rows, first or 0, digest, size)


def quote(name: str) -> str:
    """A SQL identifier for any column name."""
    return '"' + name.replace('"', '""') + '"'


def _csv_header(path: Path) -> tuple[str, ...]:
    """The column names of the first CSV record (which may span lines inside a quoted name)."""
    record = b""
    with path.open("rb") as handle:
        while line := handle.readline(_HEADER_LIMIT):
            record += line
            if record.count(b'"') % 2 == 0 or len(record) >= _HEADER_LIMIT:
                break
    if not record.strip():
        raise FileFormatError(str(path), "empty file: no header row", line=1)
    if record.count(b'"') % 2:
        raise FileFormatError(str(path), "header has a quoted name that is never closed", line=1)
    try:
        text = record.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FileFormatError(str(path), "header is not valid UTF-8", line=1) from None
    names = next(csv.reader(io.StringIO(text, newline="")))
    if any(c in name for name in names for c in "\r\n"):
        # DuckDB's CSV reader mis-detects the line ending after a quoted CR in the header and may
        # then silently read no rows: refuse such a header rather than lose rows
        raise FileFormatError(str(path), "header has a line break in a column name", line=1)
    return tuple(name.strip() for name in names)


def _check_columns(file: RegistryFile, columns: tuple[str, ...]) -> None:
    if any(not name for name in columns):
        raise FileFormatError(str(file.path), "header has an empty column name", line=1)
    if any("\x00" in name for name in columns):  # (it would end the SQL text that names the column)
        raise FileFormatError(str(file.path), "header has a NUL byte in a column name", line=1)
    if any(name.lower() == "rowid" or name.startswith(PREFIX) for name in columns):
        raise FileFormatError(str(file.path), f"column names rowid and {PREFIX}* are reserved", line=1)
    repeated = sorted({name for name in columns if columns.count(name) > 1})
    if repeated:
        raise FileFormatError(str(file.path), f"header repeats column(s) {', '.join(repeated)}", line=1)
    required, _ = COLUMNS[file.table]
    missing = [name for name in required if name not in columns]
    if missing:
        raise FileFormatError(str(file.path), f"missing required column(s) {', '.join(missing)}", line=1)


def _csv_source(columns: tuple[str, ...]) -> str:
    spec = "{" + ", ".join("'" + name.replace("'", "''") + "': 'VARCHAR'" for name in columns) + "}"
    return f"""read_csv($path, header = true, columns = {spec}, delim = ',', quote = '"', escape = '"',
               strict_mode = true, auto_detect = false, encoding = 'utf-8')"""


def _parquet_columns(con: duckdb.DuckDBPyConnection, path: Path) -> list[tuple[str, str]]:
    try:
        described = con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()
    except duckdb.Error as exc:
        raise FileFormatError(str(path), f"not a readable Parquet file ({_first_line(str(exc))})") from None
    return [(name, kind) for name, kind, *_ in described]


def _parquet_source(columns: list[tuple[str, str]]) -> str:
    casts = []
    for name, kind in columns:
        column = quote(name)
        text = f"CAST({column} AS VARCHAR)"
        if kind in ("DOUBLE", "FLOAT"):
            text = f"CASE WHEN isnan({column}) THEN NULL ELSE {text} END"
        casts.append(f"{text} AS {column}")
    return f"(SELECT {', '.join(casts)} FROM read_parquet($path))"


def _read(con: duckdb.DuckDBPyConnection, sql: str, file: RegistryFile) -> None:
    """Run a statement reading ``file`` (as ``$path``); parse errors become FileFormatError."""
    try:
        con.execute(sql, {"path": str(file.path)})
    except duckdb.Error as exc:
        if file.fmt == "parquet":
            raise FileFormatError(
                str(file.path), f"Parquet file cannot be read ({_first_line(str(exc))})"
            ) from None
        line, reason = _csv_error(str(exc))
        raise FileFormatError(str(file.path), reason, line=line) from None


def _csv_error(text: str) -> tuple[int | None, str]:
    """The line and a short reason from a DuckDB CSV error message."""
    match = re.search(r"CSV Error on Line: (\d+)", text)
    line = int(match.group(1)) if match else None
    columns = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", text)
    if columns:
        return line, f"expected {columns.group(1)} columns, found {columns.group(2)}"
    if "Invalid unicode" in text:
        return line, "not valid UTF-8 text"
    if "unterminated quote" in text:
        return line, "quoted value is never closed"
    return line, f"cannot be parsed as CSV ({_first_line(text)})"


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "unknown error"


def _sha256(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size
