"""FHIR files in `cart-relapse ingest`: accounting, quarantine, superseding, all-or-nothing, round trip."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from typer.testing import CliRunner

from cart_relapse.cli import app
from features.errors import FileFormatError
from features.fhir_terms import APHERESIS, INFUSION
from features.frame import build_feature_frame
from features.ingest import ingest_directory
from features.store import open_store, read_patients, read_quarantine
from synth import generate_registry, write_registry
from synth.fhir import export_fhir

from .conftest import make_registry, obs, snapshot
from .fhir_factories import (
    observation,
    patient,
    procedure,
    project,
    quantity,
    registered,
    write_bundle,
    write_ndjson,
)


def stored(store: Path, where: str = "true") -> list[tuple]:
    with open_store(store, read_only=True) as con:
        return con.execute(
            f"""SELECT patient_id, biomarker, value, unit, original_value, original_unit, reported_at,
                       reference_high, source_line FROM observations WHERE {where}
                ORDER BY patient_id, biomarker, reported_at"""
        ).fetchall()


def quarantined(store: Path) -> list[tuple]:
    frame = read_quarantine(store)
    return list(zip(frame.source_line, frame.reason, frame.field, strict=True))


def test_ndjson_resources_are_accepted_or_quarantined_with_file_line_field_and_reason(raw, store) -> None:
    path = write_ndjson(
        raw / "export.ndjson",
        [
            *registered("P1"),  # lines 1-3
            observation("o1", code="14804-9", value={"valueQuantity": quantity(5, "ukat/L")}),  # 4
            observation("o2", status="preliminary"),  # 5
            observation("o3", code="30522-7"),  # 6 hs-CRP
            observation("o4", code="1988-5", value={"valueQuantity": quantity(3, "mmol/L")}),  # 7
            observation("o5", patient="P9"),  # 8
            {"resourceType": "Encounter", "id": "e1", "status": "finished", "class": {"code": "AMB"}},  # 9
            observation("o6", code="1988-5", value={"valueQuantity": quantity(900, "mg/L")}),  # 10
        ],
    )
    report = ingest_directory(raw, store=store)
    (file,) = report.files
    assert (file.file, file.table, file.read) == (path.resolve(), "fhir", 10)
    assert (file.accepted, file.quarantined) == (4, 6)
    assert sorted(quarantined(store)) == [
        (5, "unusable status", "status"),
        (6, "unknown biomarker", "biomarker"),
        (7, "unknown unit", "unit"),
        (8, "unknown patient", "patient_id"),
        (9, "unsupported resource", "resourceType"),
        (10, "out of range", "value"),
    ]
    rows = read_quarantine(store)
    assert set(rows.source_file) == {str(path.resolve())} and set(rows.table_name) == {"fhir"}
    assert json.loads(rows.original_row[rows.source_line == 5].iloc[0])["id"] == "o2"
    reported = pd.Timestamp("2024-02-26 10:00:00")
    assert stored(store) == [("P1", "ldh", 300.0, "U/L", "5", "ukat/L", reported, None, 4)]
    assert read_patients(store).patient_id.tolist() == ["P1"]


def test_bundle_entries_are_numbered_by_their_index_and_urn_subjects_resolve(raw, store) -> None:
    resources = [*registered("P1"), observation("o1"), observation("o2", status="cancelled")]
    entries = [{"fullUrl": f"urn:uuid:{n}", "resource": r} for n, r in enumerate(resources)]
    entries[3]["resource"]["subject"] = {"reference": "urn:uuid:0"}
    entries.append({"request": {"method": "DELETE", "url": "Observation/old"}})
    (raw / "bundle.json").parent.mkdir(parents=True)
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    (raw / "bundle.json").write_text(json.dumps(bundle))
    report = ingest_directory(raw, store=store)
    assert (report.files[0].read, report.files[0].accepted) == (6, 4)
    assert sorted(quarantined(store)) == [
        (4, "unusable status", "status"),
        (5, "unsupported resource", "resourceType"),
    ]
    assert [r[0] for r in stored(store)] == ["P1"] and stored(store)[0][-1] == 3


@pytest.mark.parametrize(
    ("code", "value", "unit", "biomarker", "stored_value", "stored_unit"),
    [
        ("1988-5", 12, "mg/L", "crp", 1.2, "mg/dL"),
        ("777-3", 150, "10*9/L", "platelets", 150.0, "10^9/L"),
        ("26515-7", 150, "10*3/uL", "platelets", 150.0, "10^9/L"),
        ("751-8", 800, "/uL", "anc", 0.8, "10^9/L"),
        ("8122-4", 0.553, "10*9/L", "cd3_count", 553.0, "cells/uL"),
        ("14682-9", 88.4, "umol/L", "creatinine", 0.9999808, "mg/dL"),
        ("59260-0", 8, "mmol/L", "hemoglobin", 12.8912, "g/dL"),
        ("20567-4", 700, "ug/L", "ferritin", 700.0, "ng/mL"),
    ],
)
def test_ucum_values_are_stored_in_the_canonical_unit(
    raw, store, code, value, unit, biomarker, stored_value, stored_unit
) -> None:
    lab = observation(code=code, value={"valueQuantity": quantity(value, unit)})
    write_ndjson(raw / "a.ndjson", [*registered("P1"), lab])
    ingest_directory(raw, store=store)
    ((_, name, number, canonical, original, given, *_),) = stored(store)
    assert (name, canonical, original, given) == (biomarker, stored_unit, str(value), unit)
    assert number == pytest.approx(stored_value)


def test_fhir_files_are_read_beside_the_csv_tables(raw, store) -> None:
    make_registry(raw, clinical=[obs("P1", "ldh", "310", "U/L", collected=-6)])
    write_ndjson(raw / "labs.ndjson", [observation("o1", patient="P2"), observation("o2", patient="P3")])
    write_bundle(raw / "new.json", registered("P4"))
    report = ingest_directory(raw, store=store)
    assert [(f.file.name, f.read, f.accepted) for f in report.files] == [
        ("patients.csv", 3, 3),
        ("clinical.csv", 1, 1),
        ("labs.ndjson", 2, 2),
        ("new.json", 3, 3),
    ]
    assert read_patients(store).patient_id.tolist() == ["P1", "P2", "P3", "P4"]
    with open_store(store, read_only=True) as con:
        files = con.execute("SELECT format, table_name, rows_read FROM ingest_files ORDER BY file").fetchall()
        assert files == [
            ("csv", "clinical", 1),
            ("ndjson", "fhir", 2),
            ("json", "fhir", 3),
            ("csv", "patients", 3),
        ]


def test_procedures_share_the_status_of_their_patient_row(raw, store, tmp_path) -> None:
    write_ndjson(
        raw / "a.ndjson",
        [
            *registered("P1"),
            patient("P2"),
            procedure("P2", APHERESIS),
            procedure("P2", INFUSION, performed="2023-12-01"),
        ],
    )
    report = ingest_directory(raw, store=store)
    assert (report.files[0].accepted, report.files[0].quarantined) == (3, 3)
    assert sorted(quarantined(store)) == [(r, "dates out of order", "infusion_date") for r in (4, 5, 6)]
    assert "its Patient P2 (line 4) is quarantined" in read_quarantine(store).detail.iloc[-1]
    again = ingest_directory(raw, store=store)
    assert (again.files[0].counts.stored, again.files[0].counts.new, again.quarantined) == (3, 0, 3)
    assert len(read_quarantine(store)) == 3


def test_a_changed_infusion_procedure_updates_the_patient_row(raw, store, tmp_path) -> None:
    write_ndjson(raw / "a.ndjson", [patient("P1"), procedure("P1", APHERESIS)])
    ingest_directory(raw, store=store)
    later = write_ndjson(tmp_path / "later" / "b.ndjson", registered("P1"))
    report = ingest_directory(later.parent, store=store)
    assert (report.files[0].counts.updated, report.files[0].counts.stored) == (3, 0)
    assert read_patients(store).infusion_date.notna().all()


def test_a_patient_in_two_files_is_a_duplicate_a_procedure_without_its_patient_unknown(raw, store) -> None:
    write_ndjson(raw / "a.ndjson", registered("P1"))
    write_ndjson(raw / "b.ndjson", [patient("P1"), procedure("P9", INFUSION)])
    report = ingest_directory(raw, store=store)
    assert [(f.read, f.accepted, f.quarantined) for f in report.files] == [(3, 3, 0), (2, 0, 2)]
    frame = read_quarantine(store)
    lines = sorted(zip(frame.source_line, frame.reason, strict=True))
    assert lines == [(1, "duplicate"), (2, "unknown patient")]
    assert "of " + str((raw / "a.ndjson").resolve()) in frame.detail[frame.reason == "duplicate"].iloc[0]


def test_an_amended_result_supersedes_the_earlier_one_from_when_it_was_issued(raw, store, tmp_path) -> None:
    write_ndjson(raw / "a.ndjson", [*registered("P1"), observation("o1", issued=-4)])
    ingest_directory(raw, store=store)
    amended = observation("o1", status="amended", issued=-1, value={"valueQuantity": quantity(420, "U/L")})
    write_ndjson(tmp_path / "b" / "b.ndjson", [amended])
    assert ingest_directory(tmp_path / "b", store=store).files[0].counts.new == 1
    assert [r[2] for r in stored(store)] == [300.0, 420.0]
    frame = build_feature_frame(store, landmark="preinfusion")
    assert frame.ldh_preld.tolist() == [420.0]
    early = write_ndjson(tmp_path / "c" / "c.ndjson", [observation("o9", collected=-14, issued=-13)])
    ingest_directory(early.parent, store=store)
    assert build_feature_frame(store, landmark="preinfusion").ldh_preld.tolist() == [420.0]


def test_an_amended_version_in_the_same_file_and_one_with_the_same_issued_time(raw, store, tmp_path) -> None:
    corrected = observation(
        "o1", status="corrected", issued=-2, value={"valueQuantity": quantity(330, "U/L")}
    )
    write_ndjson(raw / "a.ndjson", [*registered("P1"), corrected, observation("o1", issued=-4)])
    ingest_directory(raw, store=store)
    assert [r[2] for r in stored(store)] == [300.0, 330.0]
    assert build_feature_frame(store, landmark="preinfusion").ldh_preld.tolist() == [330.0]
    same_time = observation("o1", status="amended", issued=-2, value={"valueQuantity": quantity(340, "U/L")})
    report = ingest_directory(write_ndjson(tmp_path / "b" / "b.ndjson", [same_time]).parent, store=store)
    assert report.quarantined == 1 and read_quarantine(store).reason.tolist() == ["conflicting report"]


def test_comparators_are_stored_by_the_rule_with_the_original_kept(raw, store) -> None:
    write_ndjson(
        raw / "a.ndjson",
        [
            *registered("P1"),
            observation("c1", code=project("ctdna"), value={"valueQuantity": quantity(1, "{hGE}/mL", "<")}),
            observation("c2", code="2276-4", value={"valueQuantity": quantity(2000, "ng/mL", ">")}),
            observation("c3", code="1751-7", value={"valueQuantity": quantity(1, "g/dL", "<")}),
        ],
    )
    ingest_directory(raw, store=store)
    rows = [(r[1], r[2], r[4]) for r in stored(store)]
    assert rows == [("ctdna", 0.0, "<1"), ("ferritin", 2000.000002, ">2000")]
    assert rows[1][1] > 2000  # meets CAR-HEMATOTOX's "ferritin > 2000"
    assert quarantined(store) == [(6, "out of range", "value")]


@pytest.mark.parametrize(
    ("name", "content", "line", "message"),
    [
        ("a.json", b'{"resourceType": "Bundle",\n "type": "collection", "entry": [\n}', 3, "not valid JSON"),
        ("a.json", b'{"resourceType": "Encounter", "id": "e"}', 1, "not a FHIR Bundle"),
        ("a.json", b'{"resourceType": "Bundle", "type": "document", "entry": []}', 1, "Bundle type document"),
        (
            "a.json",
            b'{"resourceType": "Bundle", "type": "collection", "entry": [{"fullUrl": 5}]}',
            1,
            "not a valid FHIR Bundle",
        ),
        ("a.json", b"[1, 2]", 1, "not a FHIR Bundle"),
        ("a.ndjson", b'{"resourceType": "Patient", "id": "P4"}\n{"resourceType": \n', 2, "not valid JSON"),
        ("a.ndjson", b'{"resourceType": "Patient", "id": "P4"}\n\n["x"]\n', 3, "not a FHIR resource"),
        ("a.ndjson", b'{"resourceType": "Patient", "id": "P4"}\n{"id": "\xff"}\n', 2, "UTF-8"),
    ],
)
def test_a_malformed_fhir_file_stops_the_ingest_and_leaves_the_store_unchanged(
    raw,
    store,
    tmp_path,
    name,
    content,
    line,
    message,
) -> None:
    write_ndjson(raw / "first.ndjson", [*registered("P1"), observation("o1")])
    ingest_directory(raw, store=store)
    before = snapshot(store)
    bad = make_registry(tmp_path / "bad", patients=[], clinical=[obs("P1", "crp", "1", "mg/dL")])
    write_ndjson(bad / "good.ndjson", [*registered("P2"), observation("o2", patient="P2")])
    (bad / name).write_bytes(content)
    with pytest.raises(FileFormatError) as caught:
        ingest_directory(bad, store=store)
    assert caught.value.line == line and message in str(caught.value)
    assert str(caught.value).startswith(f"{(bad / name).resolve()}, line {line}:")
    assert snapshot(store) == before


def test_a_malformed_fhir_file_in_a_first_ingest_leaves_no_store(raw, store) -> None:
    write_ndjson(raw / "a.ndjson", registered("P1"))
    (raw / "b.json").write_text("not json")
    with pytest.raises(FileFormatError):
        ingest_directory(raw, store=store)
    assert not store.exists()


def test_cli_prints_the_accounting_of_each_fhir_file(raw, store) -> None:
    write_ndjson(
        raw / "export.ndjson", [*registered("P1"), observation("o1"), observation("o2", status="preliminary")]
    )
    result = CliRunner().invoke(app, ["ingest", str(raw), "--store", str(store)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    cells = r"\s+│\s+".join(["export\\.ndjson", "5", "4", "4", "0", "0", "1"])
    assert re.search(cells + r"\s+│ unusable status \(status\): 1", result.output)
    assert "5 rows read = 4 accepted (4 new) + 1 quarantined" in result.output


def _censored_tables(
    tables: dict[str, pd.DataFrame],
    censored: list[tuple[str, int]],
) -> dict[str, pd.DataFrame]:
    """The registry with the comparator rule applied to the rows exported as ``<limit``."""
    out = {name: frame.copy() for name, frame in tables.items()}
    for table, index in censored:
        out[table].loc[index, "value"] = "0"
    return out


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["ndjson", "bundle"])
def test_a_registry_exported_to_fhir_gives_the_csv_feature_frames(tmp_path, layout) -> None:
    tables = generate_registry(150, seed=11)
    export = export_fhir(tables, tmp_path / "fhir", layout=layout, irregular=True, seed=3)
    irregular = export.irregular
    assert (
        min(
            irregular[k]
            for k in (
                "preliminary",
                "entered-in-error",
                "alternate LOINC code",
                "comparator",
                "unit as text only",
                "unsupported resource",
            )
        )
        > 0
    )
    assert irregular["amended"] + irregular["corrected"] > 0 and export.censored
    write_registry({k: v for k, v in tables.items() if k != "outcomes"}, tmp_path / "raw")
    write_registry(
        {k: v for k, v in _censored_tables(tables, export.censored).items() if k != "outcomes"},
        tmp_path / "expected",
    )
    for name in ("fhir", "raw", "expected"):
        report = ingest_directory(tmp_path / name, store=tmp_path / f"{name}.duckdb")
        assert all(f.read == f.accepted + f.quarantined for f in report.files)
    fhir_report = ingest_directory(tmp_path / "fhir", store=tmp_path / "fhir.duckdb")
    assert fhir_report.new == 0
    with duckdb.connect(str(tmp_path / "fhir.duckdb"), read_only=True) as con:
        reasons = dict(con.execute("SELECT reason, count(*) FROM quarantine GROUP BY ALL").fetchall())
    assert reasons == {
        "unusable status": irregular["preliminary"] + irregular["entered-in-error"],
        "unsupported resource": irregular["unsupported resource"],
    }
    changed = 0
    for landmark in ("preinfusion", "day30"):
        got = build_feature_frame(tmp_path / "fhir.duckdb", landmark=landmark)
        expected = build_feature_frame(tmp_path / "expected.duckdb", landmark=landmark)
        pd.testing.assert_frame_equal(got, expected)
        plain = build_feature_frame(tmp_path / "raw.duckdb", landmark=landmark)
        changed += int((got.crp_preld.fillna(-1) != plain.crp_preld.fillna(-1)).sum())
    assert changed > 0  # the censored CRP values did reach the frames (as 0, by the comparator rule)
