"""The pandas baseline of the point-in-time retrieval (``merge_asof`` per window), for bench/feature_store.py.

It gets the observations already in memory (``load_for_pandas``, not timed as retrieval), and its
cohort and window rules mirror ``features.pit`` exactly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from features.catalogue import Catalogue
from features.store import open_store

ORDER = ["collected_at", "reported_at", "ingest_id", "value", "value_text", "source_file", "source_line"]


def pandas_point_in_time(data: dict[str, pd.DataFrame], catalogue: Catalogue, landmark: str) -> pd.DataFrame:
    """The pandas baseline: the same cohort, filters, windows and choice as ``features.pit``.

    Args:
        data: ``patients``, ``outcomes`` and ``observations`` frames read from the store.
        catalogue: the biomarker catalogue.
        landmark: a catalogue landmark.

    Returns:
        One row per eligible patient (index patient_id, sorted) and one column per window feature.
    """
    cohort = _pandas_cohort(data, catalogue.landmarks[landmark].day)
    obs = data["observations"].merge(
        cohort[["patient_id", "infusion_date", "end_of_landmark"]], on="patient_id"
    )
    obs = obs[obs["reported_at"] < obs["end_of_landmark"]]
    obs = obs.sort_values(ORDER, kind="stable")
    specs = catalogue.window_features(landmark)
    chosen = []
    for window in dict.fromkeys(s.window for s in specs):
        w = catalogue.windows[window]
        names = {s.biomarker: s.name for s in specs if s.window == window}
        right = obs[obs["biomarker"].isin(list(names))]
        left = cohort[["patient_id", "infusion_date"]].merge(
            pd.DataFrame({"biomarker": list(names)}), how="cross"
        )
        left["until"] = left["infusion_date"] + pd.Timedelta(days=w.end + 1) - pd.Timedelta(1, "ns")
        left = left.sort_values("until", kind="stable")
        merged = pd.merge_asof(
            left,
            right.drop(columns="infusion_date"),
            left_on="until",
            right_on="collected_at",
            by=["patient_id", "biomarker"],
            direction="backward",
            tolerance=pd.Timedelta(days=w.end - w.start + 1) - pd.Timedelta(1, "ns"),
        )
        merged = merged[merged["collected_at"].notna()]
        merged["feature"] = merged["biomarker"].map(names)
        chosen.append(merged[["patient_id", "feature", "value", "value_text"]])
    return _pandas_pivot(pd.concat(chosen, ignore_index=True), cohort, specs)


def same_values(duck: pd.DataFrame, panda: pd.DataFrame, catalogue: Catalogue, landmark: str) -> bool:
    """Whether the DuckDB frame (indexed by patient_id) and the pandas one hold the same features.

    Args:
        duck: ``point_in_time_values`` indexed by patient_id.
        panda: ``pandas_point_in_time``.
        catalogue: the biomarker catalogue.
        landmark: the landmark of both.
    """
    if list(duck.index) != list(panda.index):
        return False
    for spec in catalogue.window_features(landmark):
        a, b = duck[spec.name], panda[spec.name]
        if spec.type == "category":
            if not a.fillna("\0").astype(str).equals(b.fillna("\0").astype(str)):
                return False
        elif not np.array_equal(a.to_numpy(float), b.to_numpy(float), equal_nan=True):
            return False
    return True


def load_for_pandas(store: Path) -> dict[str, pd.DataFrame]:
    """The patients, outcomes and observations of ``store`` as pandas frames (nanosecond datetimes).

    Args:
        store: the DuckDB store file.
    """
    with open_store(store, read_only=True) as con:
        data = {
            "patients": con.execute("SELECT patient_id, infusion_date FROM patients").df(),
            "outcomes": con.execute("SELECT patient_id, progression_date, death_date FROM outcomes").df(),
            "observations": con.execute(
                "SELECT patient_id, biomarker, value, value_text, collected_at, reported_at, ingest_id,"
                " source_file, source_line FROM observations"
            ).df(),
        }
    for frame in data.values():
        for column in frame.columns:
            if column.endswith("_date"):
                frame[column] = pd.to_datetime(frame[column]).astype("datetime64[ns]")
    for column in ("collected_at", "reported_at"):
        data["observations"][column] = data["observations"][column].astype("datetime64[ns]")
    return data


def _pandas_cohort(data: dict[str, pd.DataFrame], day: int) -> pd.DataFrame:
    cohort = data["patients"][data["patients"]["infusion_date"].notna()]
    cohort = cohort.merge(data["outcomes"], on="patient_id", how="left")
    landmark_date = cohort["infusion_date"] + pd.Timedelta(days=day)
    if day > 0:
        event = (cohort["progression_date"] <= landmark_date) | (cohort["death_date"] <= landmark_date)
        cohort, landmark_date = cohort[~event], landmark_date[~event]
    return cohort.assign(end_of_landmark=landmark_date + pd.Timedelta(days=1)).sort_values("patient_id")


def _pandas_pivot(chosen: pd.DataFrame, cohort: pd.DataFrame, specs: list) -> pd.DataFrame:
    numeric = chosen.pivot_table(index="patient_id", columns="feature", values="value", aggfunc="first")
    text = chosen.pivot_table(index="patient_id", columns="feature", values="value_text", aggfunc="first")
    columns = {s.name: (text if s.type == "category" else numeric).get(s.name) for s in specs}
    wide = pd.DataFrame({k: v for k, v in columns.items() if v is not None})
    return wide.reindex(index=cohort["patient_id"].to_numpy(), columns=[s.name for s in specs])
