"""Classify the staged ``patients`` and ``outcomes`` rows (one current row per patient each).

Row checks, first failure winning:

* patients: empty patient_id, empty center, sex not a catalogue level (empty is allowed: missing),
  age not a number or outside the catalogue range (empty is allowed), product empty or not a
  level, apheresis_date empty or malformed, infusion_date malformed (empty = never infused),
  infusion before apheresis (``dates out of order``).
* outcomes: empty or unknown patient_id, malformed progression/death date, empty or malformed
  last_followup_date, progression after death (``dates out of order``).

Then per patient_id within the batch: identical rows are kept once (the others ``duplicate``);
rows that differ are all ``conflicting report``, since neither can be trusted. Finally against the
store: identical to the current row, or to any earlier version in the history table (an old file
replayed), is ``stored``; a new patient is ``new``; a changed row is ``updated`` and replaces the
current row, the old one staying in the history table.
"""

from __future__ import annotations

import duckdb

from .catalogue import Catalogue
from .readers import StagedFile
from .validate import reason_sql, sql_list, union_sources

PATIENT_VALUES = ("center", "sex", "age", "product", "apheresis_date", "infusion_date")
OUTCOME_VALUES = ("progression_date", "death_date", "last_followup_date")


def classify_patients(
    con: duckdb.DuckDBPyConnection, staged: StagedFile | list[StagedFile], catalogue: Catalogue
) -> None:
    """Create the temporary table ``pat_checked`` from the staged patients rows.

    Args:
        con: the ingest connection (macros installed, ``batch_files`` created).
        staged: the staged patients file, or several sources of patients rows (the patients file
            and the patient rows mapped from FHIR files), checked together.
        catalogue: gives the sex and product levels and the age range.
    """
    attributes = {a.name: a for a in catalogue.patient_attributes}
    low, high = attributes["age"].range or (float("-inf"), float("inf"))
    sexes = ", ".join(attributes["sex"].levels or ())
    products = ", ".join(attributes["product"].levels or ())
    source = union_sources(staged if isinstance(staged, list) else [staged], ("patient_id", *PATIENT_VALUES))
    code = f"""CASE
        WHEN patient_id IS NULL THEN 'patient_id'
        WHEN center IS NULL THEN 'center'
        WHEN sex IS NOT NULL AND NOT list_contains({sql_list(attributes["sex"].levels or ())}, sex) THEN 'sex'
        WHEN age IS NOT NULL AND age_num IS NULL THEN 'age'
        WHEN age_num < {low} OR age_num > {high} THEN 'age_range'
        WHEN product IS NULL OR NOT list_contains({sql_list(attributes["product"].levels or ())}, product)
            THEN 'product'
        WHEN apheresis IS NULL THEN 'apheresis_date'
        WHEN infusion_date IS NOT NULL AND infusion IS NULL THEN 'infusion_date'
        WHEN infusion < apheresis THEN 'infusion_order'
    END"""
    detail = f"""CASE code
        WHEN 'patient_id' THEN 'patient_id is empty'
        WHEN 'center' THEN 'center is empty'
        WHEN 'sex' THEN format('sex {{}} is not one of {sexes}', sex)
        WHEN 'age' THEN format('age {{}} is not a number', age)
        WHEN 'age_range' THEN format('age {{}} is outside [{low}, {high}]', age)
        WHEN 'product' THEN format('product {{}} is not one of {products}', coalesce(product, '(empty)'))
        WHEN 'apheresis_date' THEN format('apheresis_date {{}} is not an ISO date',
                                          coalesce(apheresis_date, '(empty)'))
        WHEN 'infusion_date' THEN format('infusion_date {{}} is not an ISO date', infusion_date)
        WHEN 'infusion_order' THEN format('infusion_date {{}} is before apheresis_date {{}}',
                                          infusion, apheresis)
    END"""
    con.execute(f"""
CREATE OR REPLACE TEMP TABLE pat_parsed AS
WITH typed AS (
    SELECT *, finite_num(age) AS age_num, CAST(iso_ts(apheresis_date) AS DATE) AS apheresis,
           CAST(iso_ts(infusion_date) AS DATE) AS infusion
    FROM ({source})
), coded AS (SELECT *, {code} AS code FROM typed)
SELECT file_idx, line, patient_id, center, sex, age_num AS age, product, apheresis AS apheresis_date,
       infusion AS infusion_date, code, {detail} AS detail
FROM coded""")
    _classify_keyed(con, "pat_parsed", "pat_checked", "patients", PATIENT_VALUES)


def classify_outcomes(con: duckdb.DuckDBPyConnection, staged: StagedFile) -> None:
    """Create the temporary table ``outcomes_checked`` from the staged outcomes file.

    Args:
        con: the ingest connection (macros installed, this batch's patients applied).
        staged: the staged outcomes file.
    """
    source = union_sources([staged], ("patient_id", *OUTCOME_VALUES))
    code = """CASE
        WHEN progression_date IS NOT NULL AND progression IS NULL THEN 'progression_date'
        WHEN death_date IS NOT NULL AND death IS NULL THEN 'death_date'
        WHEN followup IS NULL THEN 'last_followup_date'
        WHEN progression > death THEN 'progression_order'
        WHEN known IS NULL THEN 'patient'
    END"""
    detail = """CASE code
        WHEN 'progression_date' THEN format('progression_date {} is not an ISO date', progression_date)
        WHEN 'death_date' THEN format('death_date {} is not an ISO date', death_date)
        WHEN 'last_followup_date' THEN format('last_followup_date {} is not an ISO date',
                                              coalesce(last_followup_date, '(empty)'))
        WHEN 'progression_order' THEN format('progression_date {} is after death_date {}', progression, death)
        WHEN 'patient' THEN format('patient {} is not in patients', coalesce(patient_id, '(empty)'))
    END"""
    con.execute(f"""
CREATE OR REPLACE TEMP TABLE outcomes_parsed AS
WITH typed AS (
    SELECT s.*, CAST(iso_ts(s.progression_date) AS DATE) AS progression,
           CAST(iso_ts(s.death_date) AS DATE) AS death,
           CAST(iso_ts(s.last_followup_date) AS DATE) AS followup,
           p.patient_id AS known
    FROM ({source}) s LEFT JOIN patients p ON p.patient_id = s.patient_id
), coded AS (SELECT *, {code} AS code FROM typed)
SELECT file_idx, line, patient_id, progression AS progression_date, death AS death_date,
       followup AS last_followup_date, code, {detail} AS detail
FROM coded""")
    _classify_keyed(con, "outcomes_parsed", "outcomes_checked", "outcomes", OUTCOME_VALUES)


def _classify_keyed(
    con: duckdb.DuckDBPyConnection, parsed: str, checked: str, table: str, values: tuple[str, ...]
) -> None:
    """Batch duplicates/conflicts per patient_id, then comparison with the current and past rows.

    Of a batch's rows for one patient_id, the first by file, then line, is kept.

    The per-patient statistics (a distinct count of the row contents) are computed only for the
    patient_ids given more than once, found first by a plain count; and a row is looked up in the
    history by an equi-join on its id and contents, not a correlated ``EXISTS`` (which DuckDB
    evaluates with a distinct over every row of the batch). Both keep the work linear in the batch.
    """
    content = "{" + ", ".join(f"'{v}': {v}" for v in values) + "}"
    same_current = " AND ".join(f"c.{v} IS NOT DISTINCT FROM cur.{v}" for v in values)
    same_history = " AND ".join(f"c.{v} IS NOT DISTINCT FROM h.{v}" for v in values)
    reason, field = reason_sql("final_code")
    position = "file_idx * 10000000000 + line"
    con.execute(f"""
CREATE OR REPLACE TEMP TABLE {checked} AS
WITH repeated AS (
    SELECT patient_id FROM {parsed} WHERE code IS NULL GROUP BY patient_id HAVING count(*) > 1
), batch AS (
    SELECT patient_id, count(*) AS n, count(DISTINCT {content}) AS versions, min({position}) AS first_pos,
           arg_min(line, {position}) AS first_line, arg_min(file_idx, {position}) AS first_file
    FROM {parsed} WHERE code IS NULL AND patient_id IN (SELECT patient_id FROM repeated) GROUP BY patient_id
), history AS (
    SELECT DISTINCT h.patient_id, {", ".join(f"h.{v}" for v in values)}
    FROM {table}_history h SEMI JOIN {parsed} p ON p.patient_id = h.patient_id
), classified AS (
    SELECT c.*, b.n AS batch_n, b.first_line, cur.patient_id IS NOT NULL AS has_current,
        CASE WHEN b.first_file <> c.file_idx THEN ' of ' || bf.file_name ELSE '' END AS first_where,
        CASE
            WHEN c.code IS NOT NULL THEN c.code
            WHEN b.versions > 1 THEN 'conflict_id'
            WHEN b.first_pos IS NOT NULL AND c.file_idx * 10000000000 + c.line <> b.first_pos THEN 'duplicate'
        END AS final_code,
        coalesce({same_current}, false) OR h.patient_id IS NOT NULL AS seen
    FROM {parsed} c
    LEFT JOIN batch b ON b.patient_id = c.patient_id
    LEFT JOIN batch_files bf ON bf.file_idx = b.first_file
    LEFT JOIN {table} cur ON cur.patient_id = c.patient_id
    LEFT JOIN history h ON h.patient_id = c.patient_id AND {same_history}
)
SELECT * EXCLUDE (code, detail, final_code, has_current, seen, batch_n, first_line, first_where),
    CASE WHEN final_code IS NOT NULL THEN 'quarantined' WHEN seen THEN 'stored'
         WHEN has_current THEN 'updated' ELSE 'new' END AS status,
    {reason} AS reason, {field} AS field,
    CASE final_code
        WHEN 'conflict_id' THEN format('patient {{}} is on {{}} rows of this ingest with different values',
                                       patient_id, batch_n)
        WHEN 'duplicate' THEN format('repeats line {{}}{{}} (patient {{}})', first_line, first_where,
                                     patient_id)
        ELSE detail
    END AS detail
FROM classified""")
