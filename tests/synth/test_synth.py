"""Tests for the synthetic registry generator (synth) on small cohorts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.catalogue import MODALITIES, load_catalogue
from synth import generate_registry, write_registry

OBSERVATION = ["patient_id", "biomarker", "value", "unit", "collected_at", "reported_at", "reference_high"]
COLUMNS = {
    "patients": ["patient_id", "center", "sex", "age", "product", "apheresis_date", "infusion_date"],
    "clinical": OBSERVATION,
    "imaging": OBSERVATION,
    "ctdna": OBSERVATION,
    "cellular": OBSERVATION,
    "outcomes": ["patient_id", "progression_date", "death_date", "last_followup_date"],
}
CATALOGUE = load_catalogue()
POST_INFUSION_ONLY = {"car_peak", "car_day28", "car_treg_pct", "pd1_pct", "deauville"}


@pytest.fixture(scope="module")
def clean() -> dict[str, pd.DataFrame]:
    return generate_registry(800, seed=3)


@pytest.fixture(scope="module")
def dirty() -> dict[str, pd.DataFrame]:
    return generate_registry(800, seed=3, dirty=True)


def _observations(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    return pd.concat([tables[m].assign(table=m) for m in MODALITIES], ignore_index=True)


def _relative_days(tables: dict[str, pd.DataFrame], obs: pd.DataFrame) -> pd.Series:
    infusion = pd.to_datetime(tables["patients"].set_index("patient_id")["infusion_date"])
    return (pd.to_datetime(obs["collected_at"]) - obs["patient_id"].map(infusion)).dt.days


def test_tables_and_columns_follow_the_data_format(clean: dict[str, pd.DataFrame]) -> None:
    assert list(clean) == list(COLUMNS)
    for name, frame in clean.items():
        assert list(frame.columns) == COLUMNS[name], name
    assert clean["patients"]["patient_id"].is_unique
    assert set(clean["patients"]["sex"]) <= {"F", "M"}
    assert clean["patients"]["age"].between(18, 100).all()
    assert set(clean["patients"]["center"]) == {f"C0{i}" for i in range(1, 9)}


def test_every_catalogue_biomarker_appears_in_its_modality(clean: dict[str, pd.DataFrame]) -> None:
    obs = _observations(clean)
    assert set(obs["biomarker"]) == set(CATALOGUE.biomarker_names)
    modality = obs["biomarker"].map(lambda b: CATALOGUE.biomarker(b).modality)
    assert (modality == obs["table"]).all()


def test_units_are_accepted_and_values_in_range(clean: dict[str, pd.DataFrame]) -> None:
    obs = _observations(clean)
    for name, rows in obs.groupby("biomarker"):
        marker = CATALOGUE.biomarker(name)
        assert set(rows["unit"]) <= set(marker.accepted_units), name
        if marker.type == "category":
            assert set(rows["value"]) <= set(marker.levels), name
            continue
        value = pd.to_numeric(rows["value"], errors="raise") * rows["unit"].map(marker.unit_factor)
        if marker.type == "bool":
            assert set(value) <= {0.0, 1.0}, name
        else:
            low, high = marker.range
            assert value.between(low, high).all(), name
        if marker.type == "int":
            assert (value == value.round()).all(), name


def test_every_biomarker_window_is_populated_and_no_row_sits_in_a_foreign_window(
    clean: dict[str, pd.DataFrame],
) -> None:
    obs = _observations(clean)
    days = _relative_days(clean, obs).to_numpy()
    for name, window in CATALOGUE.windows.items():
        inside = (days >= window.start) & (days <= window.end)
        allowed = obs["biomarker"].map(lambda b, w=name: w in CATALOGUE.biomarker(b).windows).to_numpy()
        assert not (inside & ~allowed).any(), obs[inside & ~allowed].head()
        for marker in CATALOGUE.biomarkers:
            if name in marker.windows:
                assert (inside & (obs["biomarker"] == marker.name).to_numpy()).any(), (marker.name, name)


def test_out_of_window_rows_exist(clean: dict[str, pd.DataFrame]) -> None:
    obs = _observations(clean)
    days = _relative_days(clean, obs)
    in_any = np.zeros(len(obs), dtype=bool)
    for w in CATALOGUE.windows.values():
        in_any |= days.between(w.start, w.end).to_numpy()
    outside = obs[~in_any & days.notna().to_numpy()]
    assert {"ldh", "deauville", "ctdna", "crp"} <= set(outside["biomarker"])


def test_reporting_lags_repeats_and_corrections(clean: dict[str, pd.DataFrame]) -> None:
    obs = _observations(clean)
    collected, reported = pd.to_datetime(obs["collected_at"]), pd.to_datetime(obs["reported_at"])
    assert (reported >= collected).all()
    lag = (reported - collected).dt.days
    assert lag[obs["biomarker"] == "ctdna"].between(2, 19).all()  # week-4 samples: rapid lab, 2-9 days
    key = ["patient_id", "biomarker", "collected_at"]
    per_key = obs.groupby(key)["value"].nunique()
    assert (per_key > 1).any(), "expected some corrected re-reports"
    assert not obs.duplicated([*key, "reported_at"]).any(), "same report twice (conflicting or duplicate)"
    windows = obs.assign(day=_relative_days(clean, obs)).query("biomarker == 'ldh' and -14 <= day <= -3")
    assert windows.groupby("patient_id").size().max() >= 2, "expected repeated pre-LD measurements"


def test_missingness_is_realistic(clean: dict[str, pd.DataFrame]) -> None:
    n = len(clean["patients"])
    with_ctdna = clean["ctdna"]["patient_id"].nunique() / n
    assert 0.15 < with_ctdna < 0.35
    assert clean["cellular"].query("biomarker == 'cd8_naive_pct'")["patient_id"].nunique() / n < 0.2
    never = clean["patients"]["infusion_date"].isna().mean()
    assert 0.05 < never < 0.2


def test_never_infused_patients_have_no_post_infusion_rows(clean: dict[str, pd.DataFrame]) -> None:
    patients = clean["patients"].set_index("patient_id")
    never = patients.index[patients["infusion_date"].isna()]
    assert len(never) > 0
    obs = _observations(clean)
    mine = obs[obs["patient_id"].isin(never)]
    assert not set(mine["biomarker"]) & POST_INFUSION_ONLY
    outcomes = clean["outcomes"].set_index("patient_id").loc[never]
    end = pd.to_datetime(outcomes["progression_date"]).fillna(pd.to_datetime(outcomes["death_date"]))
    assert end.notna().all()
    assert (pd.to_datetime(mine["collected_at"]) <= mine["patient_id"].map(end)).all()


def test_outcomes_are_consistent(clean: dict[str, pd.DataFrame]) -> None:
    patients = clean["patients"].set_index("patient_id")
    out = clean["outcomes"].set_index("patient_id")
    infusion = pd.to_datetime(patients["infusion_date"])
    apheresis = pd.to_datetime(patients["apheresis_date"])
    for col in ("progression_date", "death_date", "last_followup_date"):
        when = pd.to_datetime(out[col])
        assert (when.dropna() >= apheresis[when.notna()]).all(), col
        assert (when[infusion.notna()].dropna() >= infusion[when.notna() & infusion.notna()]).all(), col
    death = pd.to_datetime(out["death_date"])
    obs = _observations(clean)
    assert (
        pd.to_datetime(obs["collected_at"]) <= obs["patient_id"].map(death).fillna(pd.Timestamp.max)
    ).all()
    vein_to_vein = (infusion - apheresis).dt.days.dropna()
    assert 33 <= vein_to_vein.median() <= 47


def test_same_seed_same_registry_other_seed_differs() -> None:
    a, b, c = (
        generate_registry(150, seed=11),
        generate_registry(150, seed=11),
        generate_registry(150, seed=12),
    )
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name])
    assert not a["clinical"].equals(c["clinical"])


def _is_date(text: pd.Series) -> pd.Series:
    return pd.to_datetime(text, format="%Y-%m-%d", errors="coerce").notna()


def _numeric_marker(b: pd.Series) -> pd.Series:
    kinds = {m.name: m.type for m in CATALOGUE.biomarkers}
    return b.map(kinds).isin(["float", "int"])


def _unknown_unit(o: pd.DataFrame) -> pd.Series:
    known = o["biomarker"].isin(CATALOGUE.biomarker_names)
    ok = [
        (not k) or (u in CATALOGUE.biomarker(b).accepted_units)
        for k, b, u in zip(known, o["biomarker"], o["unit"], strict=True)
    ]
    return ~pd.Series(ok, index=o.index)


def _out_of_range(o: pd.DataFrame) -> pd.Series:
    flags = []
    for b, v, u in zip(o["biomarker"], pd.to_numeric(o["value"], errors="coerce"), o["unit"], strict=True):
        m = CATALOGUE.biomarker(b) if b in CATALOGUE.biomarker_names else None
        f = m.unit_factor(u) if m is not None and m.range is not None else None
        flags.append(bool(f is not None and np.isfinite(v) and not (m.range[0] <= v * f <= m.range[1])))
    return pd.Series(flags, index=o.index)


BAD_KINDS: dict[str, Callable[[pd.DataFrame, set[str]], pd.Series]] = {
    "unknown biomarker": lambda o, ids: ~o["biomarker"].isin(CATALOGUE.biomarker_names),
    "unknown unit": lambda o, ids: _unknown_unit(o),
    "out of range": lambda o, ids: _out_of_range(o),
    "duplicate": lambda o, ids: o.drop(columns="table").duplicated(),
    "reported before collected": lambda o, ids: pd.to_datetime(o["reported_at"], errors="coerce")
    < pd.to_datetime(o["collected_at"], errors="coerce"),
    "unknown patient": lambda o, ids: ~o["patient_id"].isin(ids),
    "malformed date": lambda o, ids: ~_is_date(o["collected_at"]) | ~_is_date(o["reported_at"]),
    "bad value": lambda o, ids: _numeric_marker(o["biomarker"])
    & pd.to_numeric(o["value"], errors="coerce").isna(),
}


@pytest.mark.parametrize("kind", list(BAD_KINDS))
def test_dirty_mode_has_each_kind_of_bad_row_and_clean_mode_none(
    kind: str, clean: dict[str, pd.DataFrame], dirty: dict[str, pd.DataFrame]
) -> None:
    detect = BAD_KINDS[kind]
    ids = set(clean["patients"]["patient_id"])
    assert detect(_observations(clean), ids).sum() == 0
    assert detect(_observations(dirty), ids).sum() >= 5


def test_dirty_mode_keeps_the_clean_rows(
    clean: dict[str, pd.DataFrame], dirty: dict[str, pd.DataFrame]
) -> None:
    for name in MODALITIES:
        assert len(dirty[name]) > len(clean[name])
        merged = clean[name].merge(dirty[name].drop_duplicates(), how="left", indicator=True)
        assert (merged["_merge"] == "both").all()
    pd.testing.assert_frame_equal(clean["patients"], dirty["patients"])


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_write_registry_round_trips(fmt: str, tmp_path: Path) -> None:
    tables = generate_registry(60, seed=5)
    paths = write_registry(tables, tmp_path / "raw", fmt=fmt)
    assert [p.name for p in paths] == [f"{name}.{fmt}" for name in tables]
    for name, path in zip(tables, paths, strict=True):
        back = pd.read_csv(path, dtype=str) if fmt == "csv" else pd.read_parquet(path)
        assert list(back.columns) == COLUMNS[name]
        assert len(back) == len(tables[name])
    patients = pd.read_csv(tmp_path / "raw" / f"patients.{fmt}", dtype=str) if fmt == "csv" else None
    if patients is not None:
        assert _is_date(patients["apheresis_date"]).all()


def test_write_registry_rejects_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown format"):
        write_registry(generate_registry(5, seed=1), tmp_path, fmt="xlsx")
