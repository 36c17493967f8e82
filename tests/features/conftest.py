"""Tiny registry factories for the feature-store tests: rows as text, written as CSV (or Parquet)."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from features.store import TABLES

INFUSION = date(2024, 3, 1)
APHERESIS = date(2024, 1, 20)
OBSERVATION_COLUMNS = [
    "patient_id",
    "biomarker",
    "value",
    "unit",
    "collected_at",
    "reported_at",
    "reference_high",
]
PATIENT_COLUMNS = ["patient_id", "center", "sex", "age", "product", "apheresis_date", "infusion_date"]
OUTCOME_COLUMNS = ["patient_id", "progression_date", "death_date", "last_followup_date"]


def day(offset: int, time: str = "") -> str:
    """ISO date ``offset`` days from the default infusion day, optionally with a time."""
    text = (INFUSION + timedelta(days=offset)).isoformat()
    return f"{text}T{time}" if time else text


def patient(patient_id: str = "P1", **overrides: str) -> dict[str, str]:
    """A valid patients row (infused on ``INFUSION``)."""
    row = {
        "patient_id": patient_id,
        "center": "C1",
        "sex": "F",
        "age": "60",
        "product": "axi-cel",
        "apheresis_date": APHERESIS.isoformat(),
        "infusion_date": INFUSION.isoformat(),
    }
    return row | overrides


def obs(
    patient_id: str,
    biomarker: str,
    value: str,
    unit: str = "",
    *,
    collected: int | str = -5,
    reported: int | str | None = None,
    reference_high: str = "",
) -> dict[str, str]:
    """An observation row; ``collected``/``reported`` are day offsets from infusion or ISO text."""

    def as_text(when: int | str | None) -> str:
        return "" if when is None else day(when) if isinstance(when, int) else when

    return {
        "patient_id": patient_id,
        "biomarker": biomarker,
        "value": value,
        "unit": unit,
        "collected_at": as_text(collected),
        "reported_at": as_text(reported),
        "reference_high": reference_high,
    }


def outcome(
    patient_id: str, *, progression: int | None = None, death: int | None = None, followup: int = 400
) -> dict[str, str]:
    """An outcomes row with dates as day offsets from infusion."""
    return {
        "patient_id": patient_id,
        "progression_date": "" if progression is None else day(progression),
        "death_date": "" if death is None else day(death),
        "last_followup_date": day(followup),
    }


def write_table(
    directory: Path, table: str, rows: list[dict[str, str]], columns: list[str] | None = None
) -> Path:
    """Write ``rows`` (all text) as ``<table>.csv``; columns default to the first row's keys."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{table}.csv"
    header = columns or (list(rows[0]) if rows else OBSERVATION_COLUMNS)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows([[row.get(c, "") for c in header] for row in rows])
    return path


def make_registry(
    directory: Path,
    *,
    patients: list[dict[str, str]] | None = None,
    outcomes: list[dict[str, str]] | None = None,
    **observations: list[dict[str, str]],
) -> Path:
    """Write a registry folder: patients (default P1-P3), optional outcomes and observation tables.

    Args:
        directory: the folder to write.
        patients: patients rows; None for three valid patients, [] for no patients file.
        outcomes: outcomes rows, or None for no outcomes file.
        observations: ``clinical=[...]``, ``imaging=[...]``, ... rows per observation table.
    """
    patients = [patient("P1"), patient("P2"), patient("P3")] if patients is None else patients
    if patients:
        write_table(directory, "patients", patients, PATIENT_COLUMNS)
    if outcomes is not None:
        write_table(directory, "outcomes", outcomes, OUTCOME_COLUMNS)
    for table, rows in observations.items():
        write_table(directory, table, rows, OBSERVATION_COLUMNS)
    return directory


def to_parquet(directory: Path) -> Path:
    """Rewrite every CSV of ``directory`` as Parquet (text columns) in ``<directory>_parquet``."""
    out = directory.with_name(directory.name + "_parquet")
    out.mkdir()
    for path in directory.glob("*.csv"):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False).replace("", None)
        frame.to_parquet(out / f"{path.stem}.parquet", index=False)
    return out


def snapshot(store: Path, tables: tuple[str, ...] = TABLES) -> dict[str, list[tuple]]:
    """Every row of every store table, sorted, to compare a store before and after."""
    con = duckdb.connect(str(store), read_only=True)
    try:
        return {t: sorted(map(repr, con.execute(f"SELECT * FROM {t}").fetchall())) for t in tables}
    finally:
        con.close()


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    """An empty registry folder."""
    return tmp_path / "raw"


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A store path (not yet created)."""
    return tmp_path / "store.duckdb"
