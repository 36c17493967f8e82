"""Shared pieces of row validation: the quarantine reasons, SQL macros and the batch/store checks.

Validation is set-based: each table is classified by SQL over its staged text, giving every row a
``code`` (NULL when the row is fine) that maps to a documented reason and the field at fault.
The table-specific checks are in ``validate_observations`` and ``validate_patients``.
"""

from __future__ import annotations

from collections.abc import Iterable

import duckdb

from .readers import StagedFile, quote
from .units import ROUND_SIG_SQL

REASONS: dict[str, tuple[str, str]] = {
    # code: (reason as in docs/data-format.md, field at fault)
    "biomarker": ("unknown biomarker", "biomarker"),
    "unit_missing": ("missing unit", "unit"),
    "unit_unknown": ("unknown unit", "unit"),
    "value_missing": ("bad value", "value"),
    "value_number": ("bad value", "value"),
    "value_int": ("bad value", "value"),
    "value_bool": ("bad value", "value"),
    "value_level": ("bad value", "value"),
    "range": ("out of range", "value"),
    "reference_high": ("bad value", "reference_high"),
    "collected_at": ("malformed date", "collected_at"),
    "reported_at": ("malformed date", "reported_at"),
    "order": ("reported before collected", "reported_at"),
    "patient": ("unknown patient", "patient_id"),
    "duplicate": ("duplicate", "row"),
    "conflict_batch": ("conflicting report", "value"),
    "conflict_store": ("conflicting report", "value"),
    "patient_id": ("bad value", "patient_id"),
    "center": ("bad value", "center"),
    "sex": ("bad value", "sex"),
    "age": ("bad value", "age"),
    "age_range": ("out of range", "age"),
    "product": ("bad value", "product"),
    "apheresis_date": ("malformed date", "apheresis_date"),
    "infusion_date": ("malformed date", "infusion_date"),
    "infusion_order": ("dates out of order", "infusion_date"),
    "progression_date": ("malformed date", "progression_date"),
    "death_date": ("malformed date", "death_date"),
    "last_followup_date": ("malformed date", "last_followup_date"),
    "progression_order": ("dates out of order", "progression_date"),
    "conflict_id": ("conflicting report", "patient_id"),
}

ISO_DATE = r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?"
"""Accepted date/time text: ISO 8601 without a UTC offset (Parquet timestamps print with a space)."""

_PLAIN_DATE = "-".join("[0-9]" * n for n in (4, 2, 2))
"""GLOB of the commonest accepted form, a bare date (a subset of ``ISO_DATE``, cheaper to test)."""

RELATIVE_TOLERANCE = 1e-9
"""Two canonical numbers are the same value when they differ by at most this, relatively (so
12 mg/L and 1.2 mg/dL of CRP are one value despite binary rounding)."""


_MACROS = f"""
CREATE OR REPLACE TEMP MACRO tidy(x) AS
    CASE WHEN prefix(x, ' ') OR suffix(x, ' ') THEN nullif(trim(x), '') ELSE nullif(x, '') END;
CREATE OR REPLACE TEMP MACRO iso_ts(x) AS
    CASE WHEN x GLOB '{_PLAIN_DATE}' OR regexp_full_match(x, '{ISO_DATE}') THEN TRY_CAST(x AS TIMESTAMP) END;
CREATE OR REPLACE TEMP MACRO finite_num(x) AS
    CASE WHEN isfinite(TRY_CAST(x AS DOUBLE)) THEN TRY_CAST(x AS DOUBLE) END;
{ROUND_SIG_SQL}
CREATE OR REPLACE TEMP MACRO same_num(a, b) AS
    (a IS NULL AND b IS NULL)
    OR coalesce(abs(a - b) <= {RELATIVE_TOLERANCE} * greatest(1.0, abs(a), abs(b)), false);
"""


def install_macros(con: duckdb.DuckDBPyConnection) -> None:
    """Create the temporary SQL macros ``tidy``, ``iso_ts``, ``finite_num``, ``round_sig``, ``same_num``.

    Args:
        con: an open connection.
    """
    con.execute(_MACROS)


def reason_sql(code: str = "code") -> tuple[str, str]:
    """SQL expressions mapping a code column to its reason and its field.

    Args:
        code: the SQL expression holding the code.

    Returns:
        (reason expression, field expression); both NULL when the code is NULL.
    """
    reasons = " ".join(f"WHEN '{c}' THEN '{r}'" for c, (r, _) in REASONS.items())
    fields = " ".join(f"WHEN '{c}' THEN '{f}'" for c, (_, f) in REASONS.items())
    return f"CASE {code} {reasons} END", f"CASE {code} {fields} END"


def text_column(staged: StagedFile, name: str) -> str:
    """The text of a staged column without surrounding spaces, NULL when empty or absent."""
    return f"tidy({quote(name)})" if staged.has(name) else "NULL::VARCHAR"


def raw_column(staged: StagedFile, name: str) -> str:
    """The text of a staged column exactly as read, NULL::VARCHAR when the file lacks it."""
    return quote(name) if staged.has(name) else "NULL::VARCHAR"


def union_sources(staged: Iterable[StagedFile], columns: Iterable[str]) -> str:
    """A UNION ALL of the staged files with ``file_idx``, ``line`` and the named text columns."""
    names = list(columns)
    parts = [
        f"SELECT {f.file_idx_of()} AS file_idx, {f.line} AS line, "
        + ", ".join(f"{text_column(f, n)} AS {quote(n)}" for n in names)
        + f" FROM {f.relation}"
        for f in staged
    ]
    return "\nUNION ALL\n".join(parts)


def sql_list(values: Iterable[str]) -> str:
    """A SQL list literal of strings."""
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"
