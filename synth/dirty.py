"""Realistic bad rows for ``dirty=True`` registries.

Every kind the ingest validator must quarantine appears in the observation tables: unknown
biomarker, unknown unit, physiologically impossible value, exact duplicate, reported before
collected, unknown patient, malformed date and a non-numeric value for a numeric biomarker.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from features.catalogue import MODALITIES, load_catalogue

RATE = 0.0005  # per kind, per observation row
_FAKE_BIOMARKERS = np.array(
    ["ldh_total", "crp_hs", "tmtv_v2", "suv_peak", "ctdna_lvl", "cd19_count"], dtype=object
)
_FAKE_UNITS = np.array(["mmol/L", "mg", "IU/mL", "%%", "cells"], dtype=object)
_TEXT_VALUES = np.array(["pending", "n/a", "<5", "high", "see report", "haemolysed"], dtype=object)

Corruptor = Callable[[np.random.Generator, pd.DataFrame], pd.DataFrame]


def add_dirty_rows(rng: np.random.Generator, tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Insert bad rows of every kind into each non-empty observation table.

    Args:
        rng: random generator.
        tables: clean registry tables.

    Returns:
        New tables; ``patients`` and ``outcomes`` are unchanged.
    """
    out = dict(tables)
    for modality in MODALITIES:
        frame = tables[modality]
        if len(frame) == 0:
            continue
        bad = [corrupt(rng, _sample(rng, frame, corrupt)) for corrupt in CORRUPTORS.values()]
        out[modality] = _interleave(rng, frame, pd.concat(bad, ignore_index=True))
    return out


def _unknown_biomarker(rng: np.random.Generator, rows: pd.DataFrame) -> pd.DataFrame:
    return rows.assign(biomarker=rng.choice(_FAKE_BIOMARKERS, size=len(rows)))


def _unknown_unit(rng: np.random.Generator, rows: pd.DataFrame) -> pd.DataFrame:
    return rows.assign(unit=rng.choice(_FAKE_UNITS, size=len(rows)))


def _out_of_range(rng: np.random.Generator, rows: pd.DataFrame) -> pd.DataFrame:
    """Replace the value by one far outside the catalogue range (rows in canonical units)."""
    high = rows["biomarker"].map(_range_high).to_numpy(float)
    value = np.where(rng.random(len(rows)) < 0.7, np.ceil(high * 3 + 1), -5.0)
    return rows.assign(value=[str(int(v)) for v in value])


def _range_high(biomarker: str) -> float:
    bounds = load_catalogue().biomarker(biomarker).range
    if bounds is None:
        raise ValueError(f"{biomarker} has no valid range in the catalogue")
    return bounds[1]


def _duplicate(rng: np.random.Generator, rows: pd.DataFrame) -> pd.DataFrame:
    return rows.copy()


def _reported_before(rng: np.random.Generator, rows: pd.DataFrame) -> pd.DataFrame:
    collected = pd.to_datetime(rows["collected_at"])
    early = collected - pd.to_timedelta(rng.integers(1, 20, size=len(rows)), unit="D")
    return rows.assign(reported_at=early.dt.strftime("%Y-%m-%d").to_numpy(object))


def _unknown_patient(rng: np.random.Generator, rows: pd.DataFrame) -> pd.DataFrame:
    return rows.assign(patient_id=[f"Q{k:06d}" for k in rng.integers(0, 999_999, size=len(rows))])


def _malformed_date(rng: np.random.Generator, rows: pd.DataFrame) -> pd.DataFrame:
    collected = pd.to_datetime(rows["collected_at"])
    us_style = collected.dt.strftime("%m/%d/%Y").to_numpy(object)
    impossible = np.array([f"{y}-13-45" for y in collected.dt.year], dtype=object)
    return rows.assign(collected_at=np.where(rng.random(len(rows)) < 0.5, us_style, impossible))


def _non_numeric(rng: np.random.Generator, rows: pd.DataFrame) -> pd.DataFrame:
    return rows.assign(value=rng.choice(_TEXT_VALUES, size=len(rows)))


CORRUPTORS: dict[str, Corruptor] = {
    "unknown biomarker": _unknown_biomarker,
    "unknown unit": _unknown_unit,
    "out of range": _out_of_range,
    "duplicate": _duplicate,
    "reported before collected": _reported_before,
    "unknown patient": _unknown_patient,
    "malformed date": _malformed_date,
    "bad value": _non_numeric,
}


def _sample(rng: np.random.Generator, frame: pd.DataFrame, corrupt: Corruptor) -> pd.DataFrame:
    """Source rows for one kind: numeric rows in canonical units where the kind needs them."""
    pool = frame
    if corrupt in (_out_of_range, _non_numeric, _unknown_unit):
        pool = frame[_numeric_canonical(frame)]
    k = min(len(pool), max(3, round(RATE * len(frame))))
    return pool.iloc[np.sort(rng.choice(len(pool), size=k, replace=False))]


def _numeric_canonical(frame: pd.DataFrame) -> np.ndarray:
    """Rows of float/int biomarkers with a range, reported in the canonical unit."""
    catalogue = load_catalogue()
    ok = {b.name: b.unit for b in catalogue.biomarkers if b.type in ("float", "int") and b.range is not None}
    canonical = frame["biomarker"].map(ok)
    return (canonical.notna() & (frame["unit"] == canonical)).to_numpy()


def _interleave(rng: np.random.Generator, frame: pd.DataFrame, bad: pd.DataFrame) -> pd.DataFrame:
    """Insert ``bad`` rows at random positions of ``frame``."""
    key = np.concatenate(
        [np.arange(len(frame), dtype=float), rng.integers(0, len(frame), size=len(bad)) + 0.5]
    )
    combined = pd.concat([frame, bad], ignore_index=True)
    return combined.iloc[np.argsort(key, kind="stable")].reset_index(drop=True)
