"""Point-in-time retrieval: what was known about each eligible patient at a landmark.

For landmark L (catalogue ``landmarks[L]``; landmark date = infusion_date + ``day``):

* Cohort: patients with an infusion date. For a landmark after day 0, a patient is excluded when
  the current outcome row has a progression or death date on or before the landmark date
  (patients without an outcome row stay in; loss to follow-up before the landmark is not checked).
* A stored report counts only if ``reported_at`` < landmark date + 1 day (reported at or before the
  end of the landmark day), and its collection day (calendar days from infusion_date to the date of
  ``collected_at``) lies inside the window of the feature, both ends inclusive, for the windows the
  landmark allows.
* Per patient and feature (biomarker x window) the chosen report is the first in this order:
  latest ``collected_at``, then latest ``reported_at``, then higher ``ingest_id``, then larger
  ``value`` (then larger ``value_text``; a missing value counts as the largest). The ingest keeps
  (patient, biomarker, collected_at, reported_at) unique, so the tie-breakers after ``reported_at``
  only matter for rows written to the store by other means; rows equal on all five keys have the
  same value, and which one's ``reference_high`` is used is then unspecified.

Retrieval runs two statements on one snapshot: the cohort, then the candidate reports (an
equi-join of observations to the cohort and to the landmark's (biomarker, window day) table) sorted
by patient, feature and the order above, read as a stream of record batches; the first row of each
(patient, feature) run is the chosen report, scattered into the wide columns (``features.wide``).
DuckDB's sort is external, so its working memory stays under the store's memory limit
(``features.store``) whatever the registry size, spilling beyond it; the process holds the output
frame plus one batch. (A hash aggregate over (patient, feature), as in ``point_in_time_sql``, keeps
a state per group in memory and cannot spill: it needed ~5 GB at 1M patients and fails under a 2 GB
limit.)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
import pandas as pd

from .catalogue import Catalogue
from .lookup import register_windows
from .readers import quote
from .wide import ULN_SUFFIX, WideColumns

COHORT_COLUMNS = (
    "patient_id",
    "center",
    "infusion_date",
    "landmark_date",
    "apheresis_date",
    "age",
    "sex",
    "product",
)
BATCH_ROWS = 1_000_000
"""Candidate reports per record batch read from the sorted stream."""
_CHOICE_ORDER = (
    "collected_at DESC",
    "reported_at DESC",
    "ingest_id DESC",
    "value DESC NULLS FIRST",
    "value_text DESC NULLS FIRST",
)
"""The choice order over observation columns, best report first."""


def point_in_time_values(con: duckdb.DuckDBPyConnection, catalogue: Catalogue, landmark: str) -> pd.DataFrame:
    """One row per eligible patient with the cohort columns, window features and ULN helpers.

    Args:
        con: an open store connection (read through a cursor of its own: the committed store, not
            a transaction the caller has open on ``con``).
        catalogue: the biomarker catalogue.
        landmark: a catalogue landmark (KeyError naming the known ones otherwise).

    Returns:
        ``COHORT_COLUMNS``, then each window feature of the landmark in catalogue order (DOUBLE
        for numbers and bools, text for categories), then ``<feature>__uln`` (the chosen row's
        canonical reference_high) for every window feature of a biomarker with a default ULN.
        Sorted by patient_id; dates as pandas datetimes.
    """
    if landmark not in catalogue.landmarks:
        raise KeyError(f"unknown landmark {landmark!r}; expected one of {sorted(catalogue.landmarks)}")
    day = int(catalogue.landmarks[landmark].day)
    specs = catalogue.window_features(landmark)
    uln = {s.name for s in specs if catalogue.biomarker(s.biomarker or "").default_uln is not None}
    with _snapshot(con, catalogue, landmark) as cur:
        cohort = cur.execute(f"SELECT * FROM ({_cohort_sql(day)}) ORDER BY patient_id").df()
        stream = cur.sql(_candidates_sql(day)).fetch_arrow_reader(BATCH_ROWS)
        frame = WideColumns(len(cohort), specs, uln).extend(stream).frame(cohort)
    for column in ("infusion_date", "landmark_date", "apheresis_date"):
        frame[column] = pd.to_datetime(frame[column]).astype("datetime64[ns]")
    return frame


def point_in_time_sql(catalogue: Catalogue, landmark: str) -> str:
    """The whole retrieval of one landmark as one statement (needs ``cat_window_days`` of that landmark).

    Same rules and result as ``point_in_time_values``, by another route (``arg_max`` per patient and
    feature, then a conditional-aggregation pivot): its memory grows with the cohort and cannot spill,
    so it is kept as the reference the streamed retrieval is tested against, not for large stores.

    Args:
        catalogue: the biomarker catalogue.
        landmark: a catalogue landmark.
    """
    day = int(catalogue.landmarks[landmark].day)
    return f"""
WITH cohort AS ({_cohort_sql(day)}),
chosen AS (
    SELECT c.patient_id, d.feature,
        arg_max({{'value': o.value, 'value_text': o.value_text, 'reference_high': o.reference_high}},
                {{'collected_at': o.collected_at, 'reported_at': o.reported_at, 'ingest_id': o.ingest_id,
                  'value': o.value, 'value_text': o.value_text}}) AS pick
    FROM observations o
    JOIN cohort c ON c.patient_id = o.patient_id
    JOIN cat_window_days d
      ON d.biomarker = o.biomarker AND d.day = CAST(o.collected_at AS DATE) - c.infusion_date
    WHERE o.reported_at < CAST(c.landmark_date + 1 AS TIMESTAMP)
    GROUP BY ALL
),
wide AS (
    SELECT patient_id, {_pivot_sql(catalogue, landmark)}
    FROM (SELECT patient_id, feature, pick.value AS value, pick.value_text AS value_text,
                 pick.reference_high AS reference_high FROM chosen)
    GROUP BY patient_id
)
SELECT cohort.*, wide.* EXCLUDE (patient_id)
FROM cohort LEFT JOIN wide USING (patient_id)
ORDER BY cohort.patient_id"""


def _candidates_sql(day: int) -> str:
    """Every report a landmark could choose, the chosen one of each (patient, feature) first.

    Each row carries its patient's row in the cohort frame (both ordered by patient_id) and its
    feature index.
    """
    return f"""
WITH cohort AS (
    SELECT patient_id, infusion_date, landmark_date,
           CAST(row_number() OVER (ORDER BY patient_id) - 1 AS INTEGER) AS patient_row
    FROM ({_cohort_sql(day)})
)
SELECT c.patient_row, d.feature_index, o.value, o.value_text, o.reference_high
FROM observations o
JOIN cohort c ON c.patient_id = o.patient_id
JOIN cat_window_days d ON d.biomarker = o.biomarker AND d.day = CAST(o.collected_at AS DATE) - c.infusion_date
WHERE o.reported_at < CAST(c.landmark_date + 1 AS TIMESTAMP)
ORDER BY c.patient_row, d.feature_index, {", ".join("o." + term for term in _CHOICE_ORDER)}"""


@contextmanager
def _snapshot(
    con: duckdb.DuckDBPyConnection, catalogue: Catalogue, landmark: str
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A cursor of ``con`` with the landmark's window tables, in one read transaction.

    The cursor is a connection of its own to the same store, so both statements see the same committed store.

    The window tables are created before the transaction: created inside it they have no statistics
    yet, and DuckDB then joins observations to the window days on the biomarker alone before the
    patient (100x the rows, 10x the time at 100k patients). Closing the cursor ends the transaction.
    """
    cur = con.cursor()
    try:
        register_windows(cur, catalogue, landmark)
        cur.execute("BEGIN TRANSACTION")
        yield cur
    finally:
        cur.close()


def _cohort_sql(day: int) -> str:
    landmark_date = f"p.infusion_date + {day}"
    event_free = (
        ""
        if day <= 0
        else f"""
      AND NOT coalesce(o.progression_date <= {landmark_date}, false)
      AND NOT coalesce(o.death_date <= {landmark_date}, false)"""
    )
    return f"""
    SELECT p.patient_id, p.center, p.infusion_date, {landmark_date} AS landmark_date, p.apheresis_date,
           p.age, p.sex, p.product
    FROM patients p LEFT JOIN outcomes o ON o.patient_id = p.patient_id
    WHERE p.infusion_date IS NOT NULL{event_free}"""


def _pivot_sql(catalogue: Catalogue, landmark: str) -> str:
    """``max(...) FILTER (WHERE feature = ...)`` per window feature, then the ULN helpers."""
    values, ulns = [], []
    for spec in catalogue.window_features(landmark):
        column = "value_text" if spec.type == "category" else "value"
        name = spec.name.replace("'", "''")
        values.append(f"max({column}) FILTER (WHERE feature = '{name}') AS {quote(spec.name)}")
        if catalogue.biomarker(spec.biomarker or "").default_uln is not None:
            ulns.append(
                f"max(reference_high) FILTER (WHERE feature = '{name}') AS {quote(spec.name + ULN_SUFFIX)}"
            )
    return ",\n        ".join(values + ulns)
