"""Point-in-time feature frames: no look-ahead, windows, choice among reports, cohorts, dtypes."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from features import pit
from features.catalogue import load_catalogue
from features.frame import ID_COLUMNS, build_feature_frame, write_frame
from features.ingest import ingest_directory
from features.lookup import register_windows
from features.pit import point_in_time_sql, point_in_time_values
from features.store import open_store
from synth import generate_registry, write_registry

from .conftest import day, make_registry, obs, outcome, patient


def frame_of(raw, store, landmark: str = "preinfusion", **tables) -> pd.DataFrame:
    make_registry(raw, **tables)
    ingest_directory(raw, store=store)
    return build_feature_frame(store, landmark=landmark).set_index("patient_id")


@pytest.mark.parametrize("landmark", ["preinfusion", "day30"])
def test_values_reported_after_the_landmark_or_collected_outside_the_window_never_appear(
    raw, store, landmark
) -> None:
    last_day = load_catalogue().landmarks[landmark].day
    frame = frame_of(
        raw,
        store,
        landmark,
        clinical=[
            obs("P1", "ldh", "300", "U/L", collected=-5),
            obs("P1", "ldh", "29999", "U/L", collected=-4, reported=last_day + 1),  # reported the day after
            obs("P1", "ldh", "29998", "U/L", collected=-2),  # after the pre-LD window, before any other
            obs("P2", "ldh", "29997", "U/L", collected=-4, reported=day(last_day + 1, "00:00:00")),
            obs("P2", "ldh", "410", "U/L", collected=-6, reported=day(last_day, "23:59:59")),
            obs("P3", "crp", "59", "mg/dL", collected=1, reported=1),  # day 1: in no window
        ],
    )
    assert frame.loc["P1", "ldh_preld"] == 300.0 and frame.loc["P2", "ldh_preld"] == 410.0
    assert frame.filter(like="ldh").max().max() < 29000
    assert frame.loc["P3", ["crp_preld", "crp_infusion"]].isna().all()


def test_window_ends_are_inclusive_and_use_calendar_days(raw, store) -> None:
    frame = frame_of(
        raw,
        store,
        clinical=[
            obs("P1", "ldh", "100", "U/L", collected=-14),
            obs("P2", "ldh", "200", "U/L", collected=day(-3, "23:30:00")),
            obs("P3", "ldh", "300", "U/L", collected=-15),
        ],
    )
    assert frame.ldh_preld.tolist()[:2] == [100.0, 200.0] and np.isnan(frame.loc["P3", "ldh_preld"])
    assert frame.loc["P3", "ldh_apheresis"] == 300.0


def test_latest_collection_in_the_window_wins(raw, store) -> None:
    frame = frame_of(
        raw,
        store,
        clinical=[
            obs("P1", "albumin", "3.1", "g/dL", collected=-10),
            obs("P1", "albumin", "3.5", "g/dL", collected=day(-4, "08:00")),
            obs("P1", "albumin", "3.3", "g/dL", collected=day(-4, "07:00")),
        ],
    )
    assert frame.loc["P1", "albumin_preld"] == 3.5


def test_the_latest_report_available_at_the_landmark_supersedes_earlier_ones(raw, store, tmp_path) -> None:
    make_registry(
        raw,
        clinical=[
            obs("P1", "ldh", "300", "U/L", collected=-5, reported=-4),
            obs("P2", "ldh", "500", "U/L", collected=-5, reported=-4),
        ],
    )
    ingest_directory(raw, store=store)
    corrections = make_registry(
        tmp_path / "corrections",
        patients=[],
        clinical=[
            obs("P1", "ldh", "320", "U/L", collected=-5, reported=-1),  # before the landmark: used
            obs("P2", "ldh", "900", "U/L", collected=-5, reported=3),  # after day 0: only at day 30
        ],
    )
    ingest_directory(corrections, store=store)
    preinfusion = build_feature_frame(store, landmark="preinfusion").set_index("patient_id")
    day30 = build_feature_frame(store, landmark="day30").set_index("patient_id")
    assert preinfusion.ldh_preld.tolist()[:2] == [320.0, 500.0]
    assert day30.ldh_preld.tolist()[:2] == [320.0, 900.0]


def test_ties_are_broken_by_ingest_id_then_value(raw, store) -> None:
    make_registry(raw)
    ingest_directory(raw, store=store)
    insert = """INSERT INTO observations VALUES (?, 'ldh', 'clinical', ?, NULL, 'U/L', ?, 'U/L',
                TIMESTAMP '2024-02-25', TIMESTAMP '2024-02-25', NULL, 'hand.csv', ?, ?)"""
    con = duckdb.connect(str(store))
    con.executemany(
        insert,
        [
            ["P1", 400.0, "400", 2, 1],
            ["P1", 300.0, "300", 3, 2],  # higher ingest id wins
            ["P2", 400.0, "400", 2, 1],
            ["P2", 450.0, "450", 3, 1],  # same ingest: larger value wins
        ],
    )
    con.close()
    frame = build_feature_frame(store, landmark="preinfusion").set_index("patient_id")
    assert frame.ldh_preld.tolist()[:2] == [300.0, 450.0]


def test_day30_cohort_excludes_events_on_or_before_day30(raw, store) -> None:
    patients = [patient(f"P{i}") for i in range(1, 7)] + [patient("P7", infusion_date="")]
    outcomes = [
        outcome("P1", progression=20),
        outcome("P2", death=30),
        outcome("P3", progression=31),
        outcome("P4", progression=-3),
        outcome("P5", followup=10),
    ]
    make_registry(raw, patients=patients, outcomes=outcomes)
    ingest_directory(raw, store=store)
    day30 = build_feature_frame(store, landmark="day30")
    preinfusion = build_feature_frame(store, landmark="preinfusion")
    assert day30.patient_id.tolist() == ["P3", "P5", "P6"]
    assert preinfusion.patient_id.tolist() == ["P1", "P2", "P3", "P4", "P5", "P6"]
    assert (day30.landmark_date - day30.infusion_date).dt.days.unique().tolist() == [30]
    assert (preinfusion.landmark_date == preinfusion.infusion_date).all()


@pytest.mark.parametrize("landmark", ["preinfusion", "day30"])
def test_columns_are_in_catalogue_order_with_float_and_object_dtypes(raw, store, landmark) -> None:
    frame = frame_of(
        raw,
        store,
        landmark,
        clinical=[
            obs("P1", "ecog", "1", collected=-20),
            obs("P1", "double_hit", "true", collected=-20),
            obs("P1", "bridging_type", "steroids", collected=-5),
        ],
    ).reset_index()
    catalogue = load_catalogue()
    assert list(frame.columns) == [*ID_COLUMNS, *catalogue.feature_names(landmark)]
    for spec in catalogue.feature_specs(landmark):
        expected = "object" if spec.type == "category" else "float64"
        assert str(frame[spec.name].dtype) == expected, spec.name
    assert not any(str(t) == "int64" for t in frame.dtypes)
    assert str(frame.infusion_date.dtype) == "datetime64[ns]"
    assert frame.loc[0, "double_hit_apheresis"] == 1.0 and frame.loc[0, "ecog_apheresis"] == 1.0
    assert frame.loc[0, "bridging_type_preld"] == "steroids" and frame.loc[1, "bridging_type_preld"] is None


def test_the_chosen_ldh_rows_uln_reaches_the_derived_features(raw, store) -> None:
    frame = frame_of(
        raw,
        store,
        clinical=[
            obs("P1", "ldh", "500", "U/L", collected=-5, reference_high="250"),
            obs("P1", "ldh", "900", "U/L", collected=-9, reference_high="100"),  # older: not chosen
            obs("P2", "ldh", "500", "U/L", collected=-5),
        ],
    )
    catalogue = load_catalogue()
    default = catalogue.biomarker("ldh").default_uln
    assert frame.loc["P1", "ldh_uln_ratio"] == 2.0
    assert frame.loc["P2", "ldh_uln_ratio"] == 500 / default
    assert not [c for c in frame.columns if c.endswith("__uln") or c == "apheresis_date"]


def test_unknown_landmark_is_a_key_error_naming_the_known_ones(tmp_path) -> None:
    with pytest.raises(KeyError, match=r"day90.*day30.*preinfusion"):
        build_feature_frame(tmp_path / "absent.duckdb", landmark="day90")


def test_write_frame_is_atomic_and_round_trips(raw, store, tmp_path) -> None:
    frame = frame_of(raw, store, clinical=[obs("P1", "bridging_response", "PR")]).reset_index()
    out = tmp_path / "out" / "frame.parquet"
    out.parent.mkdir()
    out.write_text("old content")
    write_frame(frame, out)
    pd.testing.assert_frame_equal(pd.read_parquet(out), frame, check_dtype=False)
    assert [p.name for p in out.parent.iterdir()] == ["frame.parquet"]


def reference_values(store, landmark: str) -> pd.DataFrame:
    """The same retrieval by the one-statement reference (arg_max + conditional-aggregation pivot)."""
    catalogue = load_catalogue()
    with open_store(store, read_only=True) as con:
        register_windows(con, catalogue, landmark)
        frame = con.execute(point_in_time_sql(catalogue, landmark)).df()
    for column in ("infusion_date", "landmark_date", "apheresis_date"):
        frame[column] = pd.to_datetime(frame[column]).astype("datetime64[ns]")
    return frame


def streamed_values(store, landmark: str) -> pd.DataFrame:
    with open_store(store, read_only=True) as con:
        return point_in_time_values(con, load_catalogue(), landmark)


@pytest.mark.parametrize("batch_rows", [1, 7, 1_000_000])
def test_streamed_retrieval_equals_the_one_statement_reference_on_a_dirty_registry(
    tmp_path, store, monkeypatch, batch_rows
) -> None:
    tables = generate_registry(n_patients=300, seed=5, dirty=True)
    write_registry(tables, tmp_path / "first", fmt="csv")
    ingest_directory(tmp_path / "first", store=store)
    later = {
        name: frame.sample(frac=0.3, random_state=1) for name, frame in tables.items() if name != "patients"
    }
    clinical = later["clinical"]  # corrected reports of the same samples, a day later
    reported = pd.to_datetime(clinical.collected_at, errors="coerce") + pd.Timedelta(days=1)
    value = pd.to_numeric(clinical.value, errors="coerce") * 1.01
    later["clinical"] = clinical.assign(
        reported_at=reported.dt.strftime("%Y-%m-%d"),
        value=value.round(3).astype(str).where(value.notna(), clinical.value),
    )
    write_registry(later, tmp_path / "later", fmt="csv")
    ingest_directory(tmp_path / "later", store=store)
    monkeypatch.setattr(pit, "BATCH_ROWS", batch_rows)  # runs of one patient x feature span batches
    for landmark in ("preinfusion", "day30"):
        streamed, reference = streamed_values(store, landmark), reference_values(store, landmark)
        assert len(streamed) > 150 and streamed.filter(like="_preld").notna().to_numpy().sum() > 1000
        pd.testing.assert_frame_equal(streamed, reference, check_exact=True)


def test_ties_on_every_time_and_ingest_key_go_to_the_larger_value_text_or_a_missing_value(raw, store) -> None:
    make_registry(raw)
    ingest_directory(raw, store=store)
    insert = """INSERT INTO observations VALUES (?, ?, 'clinical', ?, ?, '', 'x', NULL,
                TIMESTAMP '2024-02-25', TIMESTAMP '2024-02-25', NULL, 'hand.csv', 2, 1)"""
    con = duckdb.connect(str(store))
    con.executemany(
        insert,
        [
            ["P1", "bridging_type", None, "chemo"],
            ["P1", "bridging_type", None, "steroids"],
            ["P2", "bridging_type", None, None],
            ["P2", "bridging_type", None, "steroids"],
            ["P3", "ecog", 1.0, None],
            ["P3", "ecog", None, None],
            ["P3", "ecog", 2.0, None],
        ],
    )
    con.close()
    streamed = streamed_values(store, "preinfusion").set_index("patient_id")
    assert streamed.loc["P1", "bridging_type_preld"] == "steroids"
    assert streamed.loc["P2", "bridging_type_preld"] is None
    assert np.isnan(streamed.loc["P3", "ecog_preld"])
    pd.testing.assert_frame_equal(
        streamed.reset_index(), reference_values(store, "preinfusion"), check_exact=True
    )


def test_retrieval_reads_the_committed_store_and_leaves_the_callers_transaction_usable(raw, store) -> None:
    make_registry(raw, clinical=[obs("P1", "ldh", "300", "U/L", collected=-5)])
    ingest_directory(raw, store=store)
    with open_store(store) as con:
        con.execute("BEGIN TRANSACTION")
        con.execute("DELETE FROM observations")
        frame = point_in_time_values(con, load_catalogue(), "preinfusion")
        assert con.execute("SELECT count(*) FROM observations").fetchone()[0] == 0
        con.execute("ROLLBACK")
    assert frame.ldh_preld.tolist()[0] == 300.0
