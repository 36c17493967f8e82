"""The one row of an aggregate DuckDB query, typed (``fetchone`` may return None; an aggregate never does)."""

from __future__ import annotations

from typing import Any

import duckdb


def one_row(con: duckdb.DuckDBPyConnection, sql: str, params: object = None) -> tuple[Any, ...]:
    """Run ``sql`` and return its single row.

    Args:
        con: an open DuckDB connection.
        sql: a query that returns exactly one row (an aggregate such as ``SELECT count(*) ...``).
        params: query parameters, as DuckDB's ``execute`` takes them.

    Returns:
        The row's values (DuckDB types them per column, hence ``Any``).

    Raises:
        RuntimeError: the query returned no row.
    """
    row = con.execute(sql, params).fetchone()
    if row is None:
        raise RuntimeError(f"expected one row from: {sql.strip()[:200]}")
    return row
