"""Turn observation blocks into the long registry tables (clinical, imaging, ctdna, cellular).

Applies each centre's units and reference limits, formats values as text (numbers, 0/1, levels)
and dates as ISO 8601, and orders rows by patient and collection date.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from features.catalogue import MODALITIES, Biomarker, load_catalogue

from .centres import CENTRES, centre_attribute, centre_units
from .cohort import Arrays
from .rows import RowBlock, Values

OBSERVATION_COLUMNS = (
    "patient_id",
    "biomarker",
    "value",
    "unit",
    "collected_at",
    "reported_at",
    "reference_high",
)


def observation_tables(
    blocks: list[RowBlock], ctx: Arrays, ids: NDArray[np.object_]
) -> dict[str, pd.DataFrame]:
    """One long table per modality.

    Args:
        blocks: observation blocks (canonical values, relative days).
        ctx: merged patient arrays; uses ``centre``, ``male`` and ``infusion_day`` (absolute day of
            (planned) infusion).
        ids: patient_id per patient index.

    Returns:
        ``{modality: frame}`` with exactly ``OBSERVATION_COLUMNS``.
    """
    catalogue = load_catalogue()
    parts: dict[str, list[dict[str, NDArray[Any]]]] = {m: [] for m in MODALITIES}
    for block in blocks:
        if len(block.patient):
            marker = catalogue.biomarker(block.biomarker)
            parts[marker.modality].append(_block_columns(block, marker, ctx))
    return {m: _frame(parts[m], ids) for m in MODALITIES}


def iso_dates(days: NDArray[np.float64]) -> NDArray[np.object_]:
    """Absolute day numbers (days since 1970-01-01; NaN for none) -> ISO date strings or None.

    Args:
        days: day numbers, float or int.

    Returns:
        Object array of ``YYYY-MM-DD`` strings, None where ``days`` is NaN.
    """
    days = np.asarray(days, dtype=float)
    out = np.full(len(days), None, dtype=object)
    ok = np.isfinite(days)
    if ok.any():
        d = days[ok].astype(np.int64)
        lo, hi = d.min(), d.max()
        lookup = np.datetime_as_string(np.arange(lo, hi + 1).astype("datetime64[D]")).astype(object)
        out[ok] = lookup[d - lo]
    return out


def format_values(values: Values, kind: str) -> NDArray[np.object_]:
    """Values as registry text: whole numbers for int/bool, 3 significant digits for floats.

    Args:
        values: numeric values (or level strings for categories).
        kind: the catalogue type (``float``, ``int``, ``bool``, ``category``).

    Returns:
        Object array of strings.
    """
    if kind == "category":
        return np.asarray(values, dtype=object)
    x = np.asarray(values, dtype=float)
    if kind != "float":
        return np.round(x).astype(np.int64).astype(str).astype(object)
    mag = np.floor(np.log10(np.maximum(np.abs(x), 1e-12)))
    digits = np.clip(2 - mag, 0, 12)  # 3 significant digits; whole numbers from 100 up
    scale = 10.0**digits
    rounded = np.round(x * scale) / scale
    whole = rounded == np.round(rounded)
    text: NDArray[np.object_] = rounded.astype(str).astype(object)
    text[whole] = rounded[whole].astype(np.int64).astype(str)
    return text


def _block_columns(block: RowBlock, marker: Biomarker, ctx: Arrays) -> dict[str, NDArray[Any]]:
    """Units, converted values, reference limits and absolute days for one block."""
    centre = ctx["centre"][block.patient]
    units = centre_units(np.arange(len(CENTRES)), marker.name, marker.unit)
    factors = np.array([marker.unit_factor(u) for u in units], dtype=float)
    unit, factor = units[centre], factors[centre]
    value = block.value
    if marker.type != "category":
        numbers = np.asarray(value, dtype=np.float64)
        if marker.range is not None:
            numbers = np.clip(numbers, *marker.range)
        value = numbers / factor
    anchor = ctx["infusion_day"][block.patient]
    return {
        "patient": block.patient,
        "biomarker": np.full(len(unit), marker.name, dtype=object),
        "value": format_values(value, marker.type),
        "unit": unit,
        "collected": anchor + block.day,
        "reported": anchor + block.day + block.lag,
        "reference_high": _reference_high(marker.name, centre, ctx["male"][block.patient]) / factor,
    }


def _reference_high(name: str, centre: NDArray[np.int64], male: NDArray[np.bool_]) -> NDArray[np.float64]:
    """The centre's upper limit of normal in the canonical unit (NaN where none is reported)."""
    if name == "ldh":
        return centre_attribute(centre, "ldh_uln")
    if name == "ferritin":
        return centre_attribute(centre, "ferritin_uln")
    fixed = {"crp": 0.5, "bilirubin": 1.2}
    if name in fixed:
        return np.full(len(centre), fixed[name])
    if name == "creatinine":
        return np.where(male, 1.2, 1.0)
    return np.full(len(centre), np.nan)


def _frame(parts: list[dict[str, NDArray[Any]]], ids: NDArray[np.object_]) -> pd.DataFrame:
    """Concatenate block columns, sort by patient and date, and format dates."""
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in OBSERVATION_COLUMNS})
    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    order = np.lexsort((cols["reported"], cols["collected"], cols["patient"]))
    cols = {k: v[order] for k, v in cols.items()}
    return pd.DataFrame(
        {
            "patient_id": ids[cols["patient"]],
            "biomarker": cols["biomarker"],
            "value": cols["value"],
            "unit": cols["unit"],
            "collected_at": iso_dates(cols["collected"]),
            "reported_at": iso_dates(cols["reported"]),
            "reference_high": cols["reference_high"],
        }
    )
