"""The landmark feature frame: the one table training, batch scoring and the API read.

Columns, in this order: ``patient_id``, ``center``, ``infusion_date``, ``landmark_date`` (pandas
datetimes), then ``catalogue.feature_names(landmark)``: patient attributes, window features,
derived features. Numeric, int and bool features are float64 (bool as 0.0/1.0); category features
are object columns holding the level or None. No feature is int64 (MLflow schema enforcement
wants doubles).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from .catalogue import Catalogue, load_catalogue
from .derived import add_derived_features
from .pit import point_in_time_values
from .store import open_store

ID_COLUMNS = ("patient_id", "center", "infusion_date", "landmark_date")


def build_feature_frame(store: Path, *, landmark: str, catalogue: Catalogue | None = None) -> pd.DataFrame:
    """One row per eligible patient with every feature known at the landmark (see ``features.pit``).

    Args:
        store: the DuckDB store file (opened read-only).
        landmark: a catalogue landmark, e.g. ``preinfusion`` or ``day30``.
        catalogue: the biomarker catalogue (the packaged one by default).

    Returns:
        The frame, sorted by patient_id, columns and dtypes as in the module docstring.

    Raises:
        KeyError: unknown landmark (before the store is opened).
        RegistryError: missing or locked store.
    """
    catalogue = catalogue or load_catalogue()
    if landmark not in catalogue.landmarks:
        raise KeyError(f"unknown landmark {landmark!r}; expected one of {sorted(catalogue.landmarks)}")
    with open_store(store, read_only=True) as con:
        values = point_in_time_values(con, catalogue, landmark)
    frame = add_derived_features(values, landmark)
    return _conform(frame, catalogue, landmark)


def write_frame(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` as Parquet atomically: a temporary file beside ``path``, then a rename.

    Args:
        frame: a feature frame.
        path: the destination (its folder is created if missing).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        frame.to_parquet(temporary, index=False)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _conform(frame: pd.DataFrame, catalogue: Catalogue, landmark: str) -> pd.DataFrame:
    """Select the frame's columns in order and give each its dtype."""
    specs = catalogue.feature_specs(landmark)
    columns = [*ID_COLUMNS, *(s.name for s in specs)]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise RuntimeError(f"feature frame lacks columns {missing} (catalogue and derived features disagree)")
    out = frame.loc[:, columns].reset_index(drop=True)
    for spec in specs:
        if spec.type == "category":
            out[spec.name] = _none_for_missing(out[spec.name])
        else:
            out[spec.name] = pd.to_numeric(out[spec.name], errors="raise").astype(np.float64)
    for column in ("infusion_date", "landmark_date"):
        out[column] = pd.to_datetime(out[column]).astype("datetime64[ns]")
    return out


def _none_for_missing(column: pd.Series) -> pd.Series:
    """The column as objects, None where a value is missing (the category columns' missing value)."""
    values = column.astype(object)
    values[column.isna()] = None
    return values
