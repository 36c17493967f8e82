"""Ingestion: validation and quarantine, unit conversion, idempotence, reports, all-or-nothing."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pytest
from rich.console import Console
from typer.testing import CliRunner

from cart_relapse.cli import app
from features import persist
from features.errors import FileFormatError, RegistryError
from features.ingest import ingest_directory
from features.store import open_store, read_outcomes, read_patients, read_quarantine
from features.validate import REASONS

from .conftest import make_registry, obs, outcome, patient, snapshot, to_parquet, write_table

GOOD = obs("P1", "ldh", "300", "U/L")


def observations(store: Path, where: str = "true") -> list[tuple]:
    with open_store(store, read_only=True) as con:
        return con.execute(
            f"""SELECT patient_id, biomarker, value, value_text, unit, original_value, original_unit,
                       reported_at, reference_high FROM observations WHERE {where}
                ORDER BY patient_id, biomarker, collected_at, reported_at"""
        ).fetchall()


@pytest.mark.parametrize(
    ("row", "reason", "field"),
    [
        (obs("P1", "ldh_total", "300", "U/L"), "unknown biomarker", "biomarker"),
        (obs("P1", "crp", "3", "mmol/L"), "unknown unit", "unit"),
        (obs("P1", "ecog", "1", "points"), "unknown unit", "unit"),
        (obs("P1", "ldh", "300", ""), "missing unit", "unit"),
        (obs("P1", "albumin", "45", "g/dL"), "out of range", "value"),
        (obs("P1", "ecog", "7"), "out of range", "value"),
        (obs("P1", "crp", "-1", "mg/L"), "out of range", "value"),
        (obs("P1", "ldh", "high", "U/L"), "bad value", "value"),
        (obs("P1", "ldh", "nan", "U/L"), "bad value", "value"),
        (obs("P1", "ldh", "", "U/L"), "bad value", "value"),
        (obs("P1", "ecog", "2.5"), "bad value", "value"),
        (obs("P1", "double_hit", "yes"), "bad value", "value"),
        (obs("P1", "bridging_response", "MR"), "bad value", "value"),
        (obs("P1", "ldh", "300", "U/L", reference_high="abc"), "bad value", "reference_high"),
        (obs("P1", "ldh", "300", "U/L", collected="2024-13-45"), "malformed date", "collected_at"),
        (obs("P1", "ldh", "300", "U/L", collected="05/03/2024"), "malformed date", "collected_at"),
        (
            obs("P1", "ldh", "300", "U/L", collected="2024-02-25T08:00:00+02:00"),
            "malformed date",
            "collected_at",
        ),
        (obs("P1", "ldh", "300", "U/L", collected=""), "malformed date", "collected_at"),
        (obs("P1", "ldh", "300", "U/L", reported="2024-02-30"), "malformed date", "reported_at"),
        (
            obs("P1", "ldh", "300", "U/L", collected=-5, reported=-6),
            "reported before collected",
            "reported_at",
        ),
        (obs("P9", "ldh", "300", "U/L"), "unknown patient", "patient_id"),
        (obs("", "ldh", "300", "U/L"), "unknown patient", "patient_id"),
    ],
)
def test_each_quarantine_reason_names_file_line_and_field(raw, store, row, reason, field) -> None:
    make_registry(raw, clinical=[GOOD, row])
    report = ingest_directory(raw, store=store)
    quarantine = read_quarantine(store)
    assert quarantine[["source_line", "reason", "field", "table_name"]].values.tolist() == [
        [3, reason, field, "clinical"]
    ]
    assert quarantine.source_file[0] == str((raw / "clinical.csv").resolve())
    assert json.loads(quarantine.original_row[0]) == {k: (v or None) for k, v in row.items()}
    assert report.quarantined == 1 and len(observations(store)) == 1


def test_read_equals_accepted_plus_quarantined_per_file(raw, store) -> None:
    make_registry(
        raw,
        patients=[patient("P1"), patient("P2", product="cilta-cel"), patient("P3"), patient("P3")],
        outcomes=[outcome("P1"), outcome("P2"), outcome("P3", progression=20)],
        clinical=[GOOD, obs("P1", "ldh", "x", "U/L", collected=-20), obs("P2", "ldh", "300", "U/L")],
        imaging=[obs("P1", "tmtv", "0.2", "L"), obs("P3", "tmtv", "50000", "mL")],
    )
    report = ingest_directory(raw, store=store)
    by_table = {f.table: f for f in report.files}
    assert [(t, f.read, f.accepted, f.quarantined) for t, f in by_table.items()] == [
        ("patients", 4, 2, 2),
        ("outcomes", 3, 2, 1),
        ("clinical", 3, 1, 2),
        ("imaging", 2, 1, 1),
    ]
    assert all(f.read == f.accepted + f.quarantined for f in report.files)
    assert report.quarantined == 6 == len(read_quarantine(store))
    assert by_table["patients"].counts.reasons[0][:2] in {("bad value", "product"), ("duplicate", "row")}


def test_units_are_converted_to_canonical_and_originals_kept(raw, store) -> None:
    make_registry(
        raw,
        clinical=[
            obs("P1", "crp", "12", "mg/L", reference_high="5"),
            obs("P1", "ldh", "5", "ukat/L", reference_high="4.2"),
            obs("P1", "creatinine", "88.4", "umol/L"),
        ],
    )
    ingest_directory(raw, store=store)
    rows = {r[1]: r for r in observations(store)}
    assert rows["crp"][2] == 1.2 and rows["crp"][4:7] == ("mg/dL", "12", "mg/L") and rows["crp"][8] == 0.5
    assert rows["ldh"][2] == 300.0 and rows["ldh"][8] == pytest.approx(252.0)
    assert rows["creatinine"][2] == pytest.approx(88.4 * 0.011312)


def test_categories_and_bools_are_stored_as_level_and_zero_one(raw, store) -> None:
    make_registry(
        raw,
        clinical=[
            obs("P1", "bridging_response", "PR"),
            obs("P1", "double_hit", "true"),
            obs("P2", "double_hit", "0"),
        ],
    )
    ingest_directory(raw, store=store)
    assert [(r[0], r[1], r[2], r[3]) for r in observations(store)] == [
        ("P1", "bridging_response", None, "PR"),
        ("P1", "double_hit", 1.0, None),
        ("P2", "double_hit", 0.0, None),
    ]


def test_reingesting_the_same_files_adds_nothing(raw, store) -> None:
    make_registry(
        raw, outcomes=[outcome("P1")], clinical=[GOOD, obs("P1", "ldh", "bad", "U/L", collected=-20)]
    )
    first = ingest_directory(raw, store=store)
    before = snapshot(
        store, ("patients", "patients_history", "outcomes", "outcomes_history", "observations", "quarantine")
    )
    second = ingest_directory(raw, store=store)
    after = snapshot(store, tuple(before))
    assert after == before
    assert first.new == 5 and second.new == 0
    assert [(f.counts.stored, f.quarantined) for f in second.files] == [(3, 0), (1, 0), (1, 1)]
    assert second.ingest_id == first.ingest_id + 1


def test_same_value_in_another_unit_is_already_stored_not_a_conflict(raw, store, tmp_path) -> None:
    make_registry(raw, clinical=[obs("P1", "crp", "1.2", "mg/dL")])
    ingest_directory(raw, store=store)
    make_registry(tmp_path / "again", patients=[], clinical=[obs("P1", "crp", "12", "mg/L")])
    report = ingest_directory(tmp_path / "again", store=store)
    assert (report.files[0].counts.stored, report.quarantined) == (1, 0)


def test_later_report_is_stored_beside_the_earlier_one(raw, store, tmp_path) -> None:
    make_registry(raw, clinical=[obs("P1", "ldh", "300", "U/L", collected=-5, reported=-4)])
    ingest_directory(raw, store=store)
    make_registry(
        tmp_path / "later", patients=[], clinical=[obs("P1", "ldh", "320", "U/L", collected=-5, reported=-1)]
    )
    report = ingest_directory(tmp_path / "later", store=store)
    assert report.files[0].counts.new == 1
    assert [r[2] for r in observations(store)] == [300.0, 320.0]


def test_a_different_value_for_a_stored_report_is_a_conflict(raw, store, tmp_path) -> None:
    make_registry(raw, clinical=[obs("P1", "ldh", "300", "U/L", reported=-4)])
    ingest_directory(raw, store=store)
    make_registry(tmp_path / "b", patients=[], clinical=[obs("P1", "ldh", "310", "U/L", reported=-4)])
    report = ingest_directory(tmp_path / "b", store=store)
    assert report.quarantined == 1
    assert read_quarantine(store)[["reason", "source_line"]].values.tolist() == [["conflicting report", 2]]
    assert [r[2] for r in observations(store)] == [300.0]


def test_duplicates_within_a_batch_keep_the_first_and_conflicts_keep_none(raw, store) -> None:
    make_registry(
        raw,
        clinical=[
            GOOD,
            GOOD,
            obs("P2", "ldh", "300", "U/L"),
            obs("P2", "ldh", "301", "U/L"),
        ],
        imaging=[obs("P1", "ldh", "300", "U/L")],
    )
    report = ingest_directory(raw, store=store)
    quarantine = read_quarantine(store)
    assert sorted(zip(quarantine.table_name, quarantine.source_line, quarantine.reason, strict=True)) == [
        ("clinical", 3, "duplicate"),
        ("clinical", 4, "conflicting report"),
        ("clinical", 5, "conflicting report"),
        ("imaging", 2, "duplicate"),
    ]
    assert report.quarantined == 4
    assert [(r[0], r[2]) for r in observations(store)] == [("P1", 300.0)]


def test_patient_rows_are_validated(raw, store) -> None:
    make_registry(
        raw,
        patients=[
            patient("P1"),
            patient("P2", product="cilta-cel"),
            patient("P3", age="17"),
            patient("P4", apheresis_date="2024-02-31"),
            patient("P5", infusion_date="2023-12-01"),
            patient("P6"),
            patient("P6"),
            patient("P7", age="50"),
            patient("P7", age="51"),
            patient("P8", infusion_date=""),
            patient("", center="C2"),
        ],
    )
    ingest_directory(raw, store=store)
    got = read_quarantine(store)[["source_line", "reason", "field"]].values.tolist()
    assert got == [
        [3, "bad value", "product"],
        [4, "out of range", "age"],
        [5, "malformed date", "apheresis_date"],
        [6, "dates out of order", "infusion_date"],
        [8, "duplicate", "row"],
        [9, "conflicting report", "patient_id"],
        [10, "conflicting report", "patient_id"],
        [12, "bad value", "patient_id"],
    ]
    patients = read_patients(store)
    assert patients.patient_id.tolist() == ["P1", "P6", "P8"]
    assert patients.infusion_date.isna().tolist() == [False, False, True]
    assert str(patients.infusion_date.dtype).startswith("datetime64")


def test_changed_patient_and_outcome_rows_replace_the_current_and_keep_history(raw, store, tmp_path) -> None:
    make_registry(raw, patients=[patient("P1", infusion_date="")], outcomes=[outcome("P1", followup=100)])
    ingest_directory(raw, store=store)
    later = make_registry(
        tmp_path / "later", patients=[patient("P1")], outcomes=[outcome("P1", progression=90)]
    )
    report = ingest_directory(later, store=store)
    assert [f.counts.updated for f in report.files] == [1, 1]
    assert read_patients(store).infusion_date.notna().all()
    assert read_outcomes(store).progression_date.notna().all()
    replay = ingest_directory(raw, store=store)  # the old files again: already seen, no revert
    assert [(f.counts.stored, f.counts.updated) for f in replay.files] == [(1, 0), (1, 0)]
    assert read_outcomes(store).progression_date.notna().all()
    with open_store(store, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM outcomes_history").fetchone()[0] == 2
        assert con.execute("SELECT count(*) FROM patients_history").fetchone()[0] == 2


def test_a_row_equal_to_any_earlier_version_is_stored_once_and_the_current_row_stays(
    raw, store, tmp_path
) -> None:
    for age in ("50", "51", "52"):
        ingest_directory(
            make_registry(tmp_path / age, patients=[patient("P1", age=age), patient("P2")]), store=store
        )
    replay = ingest_directory(
        make_registry(
            tmp_path / "replay",
            patients=[patient("P1", age="51"), patient("P2"), patient("P3", sex=""), patient("P3", sex="")],
        ),
        store=store,
    )
    counts = replay.files[0].counts
    assert (counts.new, counts.stored, counts.updated, counts.quarantined) == (1, 2, 0, 1)
    assert read_patients(store).set_index("patient_id").age.to_dict() == {"P1": 52.0, "P2": 60.0, "P3": 60.0}
    with open_store(store, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM patients_history").fetchone()[0] == 5


def test_observations_may_refer_to_patients_stored_earlier(raw, store, tmp_path) -> None:
    make_registry(raw)
    ingest_directory(raw, store=store)
    report = ingest_directory(make_registry(tmp_path / "labs", patients=[], clinical=[GOOD]), store=store)
    assert (report.files[0].table, report.files[0].counts.new, report.quarantined) == ("clinical", 1, 0)


def test_outcome_dates_are_validated(raw, store) -> None:
    bad_followup = outcome("P2") | {"last_followup_date": ""}
    make_registry(raw, outcomes=[outcome("P1", progression=50, death=40), bad_followup, outcome("P9")])
    ingest_directory(raw, store=store)
    assert read_quarantine(store)[["source_line", "reason", "field"]].values.tolist() == [
        [2, "dates out of order", "progression_date"],
        [3, "malformed date", "last_followup_date"],
        [4, "unknown patient", "patient_id"],
    ]


def test_parquet_files_are_read_like_csv(raw, store, tmp_path) -> None:
    make_registry(
        raw,
        outcomes=[outcome("P1")],
        clinical=[GOOD, obs("P1", "crp", "12", "mg/L"), obs("P1", "albumin", "45", "g/dL")],
    )
    report = ingest_directory(to_parquet(raw), store=store)
    assert [(f.file.suffix, f.read, f.accepted) for f in report.files] == [
        (".parquet", 3, 3),
        (".parquet", 1, 1),
        (".parquet", 3, 2),
    ]
    assert read_quarantine(store)[["source_line", "reason"]].values.tolist() == [[4, "out of range"]]


def test_parquet_typed_columns_are_validated_as_text(raw, store) -> None:
    make_registry(raw)
    duckdb.sql(f"""COPY (SELECT 'P1' AS patient_id, 'ldh' AS biomarker, 300.0::DOUBLE AS value, 'U/L' AS unit,
                     TIMESTAMP '2024-02-25 08:00:00' AS collected_at, NULL::TIMESTAMP AS reported_at,
                     'nan'::DOUBLE AS reference_high)
                   TO '{raw / "clinical.parquet"}' (FORMAT parquet)""")
    report = ingest_directory(raw, store=store)
    assert report.quarantined == 0
    assert observations(store)[0][2] == 300.0 and observations(store)[0][8] is None


@pytest.mark.parametrize(
    ("content", "line", "message"),
    [
        (
            b"patient_id,biomarker,value,unit,collected_at\nP1,ldh,300,U/L,2024-02-25\nP1,ldh,300\n",
            3,
            "columns",
        ),
        (
            b"patient_id,biomarker,value,unit,collected_at\nP1,ldh,300,U/L,2024-02-25\nP1,ldh,\xff\xfe,U/L,2024-02-25\n",
            3,
            "UTF-8",
        ),
        (b'patient_id,biomarker,value,unit,collected_at\nP1,ldh,"300,U/L,2024-02-25\n', 2, "quoted"),
        (
            b"patient_id,biomarker,unit,collected_at\nP1,ldh,U/L,2024-02-25\n",
            1,
            "missing required column(s) value",
        ),
        (b"", 1, "empty file"),
    ],
)
def test_unparseable_file_raises_and_leaves_the_store_unchanged(
    raw, store, tmp_path, content, line, message
) -> None:
    make_registry(raw, clinical=[GOOD])
    ingest_directory(raw, store=store)
    before = snapshot(store)
    bad = make_registry(tmp_path / "bad", patients=[patient("P4")], outcomes=[outcome("P1", progression=10)])
    (bad / "imaging.csv").write_bytes(content)
    with pytest.raises(FileFormatError) as caught:
        ingest_directory(bad, store=store)
    assert caught.value.line == line and message in str(caught.value)
    assert str(caught.value).startswith(f"{(bad / 'imaging.csv').resolve()}, line {line}:")
    assert snapshot(store) == before


def test_failed_first_ingest_leaves_no_store_file(raw, store) -> None:
    make_registry(raw)
    (raw / "clinical.csv").write_text("patient_id,biomarker\nP1,ldh\n")
    with pytest.raises(FileFormatError):
        ingest_directory(raw, store=store)
    assert not store.exists()


def test_an_error_mid_ingest_rolls_everything_back(raw, store, tmp_path, monkeypatch) -> None:
    make_registry(raw, clinical=[GOOD])
    ingest_directory(raw, store=store)
    before = snapshot(store)
    make_registry(
        tmp_path / "next",
        patients=[patient("P4")],
        outcomes=[outcome("P4")],
        clinical=[obs("P4", "ldh", "250", "U/L"), obs("P9", "ldh", "1", "U/L")],
    )

    def crash(con: duckdb.DuckDBPyConnection, ingest_id: int) -> None:
        con.execute("INSERT INTO observations SELECT * REPLACE (9 AS ingest_id) FROM observations")
        raise KeyboardInterrupt  # as if the process were interrupted after writing

    monkeypatch.setattr("features.ingest.apply_observations", crash)
    with pytest.raises(KeyboardInterrupt):
        ingest_directory(tmp_path / "next", store=store)
    assert snapshot(store) == before
    assert persist.apply_observations is not crash


def test_missing_folder_and_folder_without_registry_files(tmp_path, store) -> None:
    with pytest.raises(RegistryError, match="not a folder"):
        ingest_directory(tmp_path / "nope", store=store)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("hi")
    with pytest.raises(RegistryError, match="no registry files"):
        ingest_directory(tmp_path / "empty", store=store)


def test_report_renders_per_file_counts_and_reasons(raw, store) -> None:
    make_registry(raw, clinical=[GOOD, obs("P1", "ecog", "9")])
    report = ingest_directory(raw, store=store)
    console = Console(width=200, record=True)
    console.print(report.render())
    text = console.export_text()
    assert re.search(
        r"clinical\.csv\s+│\s+2\s+│\s+1\s+│\s+1\s+│\s+0\s+│\s+0\s+│\s+1\s+│ out of range \(value\): 1", text
    )
    assert "5 rows read = 4 accepted (4 new) + 1 quarantined" in text


def test_cli_strict_fails_only_when_rows_were_quarantined(raw, store, tmp_path) -> None:
    runner = CliRunner()
    make_registry(raw, clinical=[GOOD])
    assert runner.invoke(app, ["ingest", str(raw), "--store", str(store), "--strict"]).exit_code == 0
    dirty = make_registry(tmp_path / "dirty", clinical=[obs("P1", "ldh", "1e9", "U/L")])
    lenient = runner.invoke(app, ["ingest", str(dirty), "--store", str(store)])
    strict = runner.invoke(app, ["ingest", str(dirty), "--store", str(store), "--strict"])
    assert (lenient.exit_code, strict.exit_code) == (0, 1)
    assert "1 rows were quarantined" in strict.output


def test_every_quarantine_reason_is_documented() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "data-format.md").read_text()
    for reason, _ in REASONS.values():
        assert f"| `{reason}` |" in doc, reason


def test_a_column_order_other_than_the_documented_one_is_fine(raw, store) -> None:
    make_registry(raw)
    columns = ["reference_high", "collected_at", "value", "extra", "biomarker", "unit", "patient_id"]
    write_table(raw, "clinical", [GOOD | {"extra": "x"}, obs("P1", "crp", "5", "g")], columns)
    ingest_directory(raw, store=store)
    assert json.loads(read_quarantine(store).original_row[0])["extra"] is None
    assert len(observations(store)) == 1
