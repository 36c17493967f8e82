"""The catalogue as small DuckDB temporary tables, so validation and retrieval stay set-based.

* ``cat_biomarkers(biomarker, modality, type, unit, min_value, max_value, levels VARCHAR[],
  accepted_units)``
* ``cat_units(biomarker, unit, factor)``: the canonical unit (factor 1) and every alternative;
  unitless biomarkers have the unit ``''``.
* ``cat_windows(feature, biomarker, window_name, start_day, end_day, feature_index)``: a landmark's
  window features (``feature_index``: position in ``Catalogue.window_features``), and
  ``cat_window_days(feature, biomarker, window_name, day, feature_index)``: one row per day of each window.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from .catalogue import Catalogue

_BIOMARKERS_DDL = """(biomarker VARCHAR, modality VARCHAR, type VARCHAR, unit VARCHAR,
    min_value DOUBLE, max_value DOUBLE, levels VARCHAR[], accepted_units VARCHAR)"""
_UNITS_DDL = "(biomarker VARCHAR, unit VARCHAR, factor DOUBLE)"
_WINDOWS_DDL = """(feature VARCHAR, biomarker VARCHAR, window_name VARCHAR, start_day INTEGER,
    end_day INTEGER, feature_index INTEGER)"""


def register_catalogue(con: duckdb.DuckDBPyConnection, catalogue: Catalogue) -> None:
    """Create (or replace) the temporary ``cat_biomarkers`` and ``cat_units`` tables.

    Args:
        con: an open store connection.
        catalogue: the biomarker catalogue.
    """
    biomarkers = [
        (
            b.name,
            b.modality,
            b.type,
            b.unit,
            b.range[0] if b.range else None,
            b.range[1] if b.range else None,
            list(b.levels) if b.levels else None,
            ", ".join(u if u else "(none)" for u in b.accepted_units),
        )
        for b in catalogue.biomarkers
    ]
    units = [(b.name, b.unit, 1.0) for b in catalogue.biomarkers] + [
        (b.name, unit, factor) for b in catalogue.biomarkers for unit, factor in b.alt_units.items()
    ]
    _create_temp(con, "cat_biomarkers", _BIOMARKERS_DDL, biomarkers)
    _create_temp(con, "cat_units", _UNITS_DDL, units)


def register_windows(con: duckdb.DuckDBPyConnection, catalogue: Catalogue, landmark: str) -> None:
    """Create (or replace) the temporary ``cat_windows`` and ``cat_window_days`` of one landmark.

    Args:
        con: an open store connection.
        catalogue: the biomarker catalogue.
        landmark: a catalogue landmark (KeyError naming it otherwise).
    """
    if landmark not in catalogue.landmarks:
        raise KeyError(f"unknown landmark {landmark!r}; expected one of {sorted(catalogue.landmarks)}")
    rows = []
    for i, spec in enumerate(catalogue.window_features(landmark)):
        if spec.window is None:
            raise ValueError(f"window feature {spec.name} has no window")
        window = catalogue.windows[spec.window]
        rows.append((spec.name, spec.biomarker, spec.window, window.start, window.end, i))
    _create_temp(con, "cat_windows", _WINDOWS_DDL, rows)
    con.execute("""CREATE OR REPLACE TEMP TABLE cat_window_days AS
        SELECT feature, biomarker, window_name, CAST(unnest(range(start_day, end_day + 1)) AS INTEGER) AS day,
               feature_index
        FROM cat_windows""")


def _create_temp(
    con: duckdb.DuckDBPyConnection, name: str, ddl: str, rows: Sequence[tuple[object, ...]]
) -> None:
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} {ddl}")
    if rows:
        marks = ", ".join("?" * len(rows[0]))
        con.executemany(f"INSERT INTO {name} VALUES ({marks})", list(rows))
