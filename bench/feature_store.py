"""Feature-store benchmark: ingest speed, and point-in-time retrieval against a pandas baseline.

Builds a synthetic registry (100k patients by default), writes it as CSV to a temporary folder,
times ``ingest_directory`` (rows/s) and, as the ceiling on this machine at this moment, a bare copy
of the same CSV files into a fresh DuckDB file (every column as text, no validation, no lookups),
then times the DuckDB point-in-time retrieval of both
landmarks against a competent pandas implementation (``merge_asof`` per window) of the same rules,
checks that both give the same values, and prints a side-by-side table.

The pandas baseline gets the observations already in memory (its load time is printed but not
counted), and its cohort and window rules mirror ``features.pit`` exactly.

Usage: ``python bench/feature_store.py [--patients N] [--seed S]`` (``make bench``).
Targets: ingest >= 500k rows/s; retrieval < 10 s and >= 3x faster than pandas.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from features.catalogue import Catalogue, load_catalogue
from features.frame import build_feature_frame
from features.ingest import ingest_directory
from features.pit import point_in_time_values
from features.store import STORAGE_VERSION, open_store
from synth import generate_registry, write_registry

ORDER = ["collected_at", "reported_at", "ingest_id", "value", "value_text", "source_file", "source_line"]


def main() -> None:
    """Run the benchmark and print the results."""
    args = _parse_args()
    console = Console()
    catalogue = load_catalogue()
    with tempfile.TemporaryDirectory(prefix="bench-feature-store-") as tmp:
        raw, store = Path(tmp) / "raw", Path(tmp) / "store.duckdb"
        clock = time.perf_counter()
        write_registry(generate_registry(n_patients=args.patients, seed=args.seed), raw, fmt="csv")
        console.print(f"synthetic registry: {args.patients:,} patients in {time.perf_counter() - clock:.1f} s")
        console.print(f"load average before the ingest: {_load()}")
        clock = time.perf_counter()
        report = ingest_directory(raw, store=store)
        ingest_s = time.perf_counter() - clock
        console.print(report.render())
        copy_s = _bare_copy(raw, Path(tmp) / "copy.duckdb")
        console.print(f"load average after the bare copy: {_load()}")
        rows = _rows(report, ingest_s, copy_s)
        data, load_s = _load_for_pandas(store)
        console.print(f"pandas baseline input loaded from the store in {load_s:.1f} s (not counted)")
        for landmark in catalogue.landmarks:
            rows += _compare(store, data, catalogue, landmark)
    console.print(_table(rows))


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
    obs = data["observations"].merge(cohort[["patient_id", "infusion_date", "end_of_landmark"]], on="patient_id")
    obs = obs[obs["reported_at"] < obs["end_of_landmark"]]
    obs = obs.sort_values(ORDER, kind="stable")
    specs = catalogue.window_features(landmark)
    chosen = []
    for window in dict.fromkeys(s.window for s in specs):
        w = catalogue.windows[window]
        names = {s.biomarker: s.name for s in specs if s.window == window}
        right = obs[obs["biomarker"].isin(list(names))]
        left = cohort[["patient_id", "infusion_date"]].merge(pd.DataFrame({"biomarker": list(names)}), how="cross")
        left["until"] = left["infusion_date"] + pd.Timedelta(days=w.end + 1) - pd.Timedelta(1, "ns")
        left = left.sort_values("until", kind="stable")
        merged = pd.merge_asof(
            left, right.drop(columns="infusion_date"), left_on="until", right_on="collected_at",
            by=["patient_id", "biomarker"], direction="backward",
            tolerance=pd.Timedelta(days=w.end - w.start + 1) - pd.Timedelta(1, "ns"),
        )
        merged = merged[merged["collected_at"].notna()]
        merged["feature"] = merged["biomarker"].map(names)
        chosen.append(merged[["patient_id", "feature", "value", "value_text"]])
    return _pandas_pivot(pd.concat(chosen, ignore_index=True), cohort, specs)


def _pandas_cohort(data: dict[str, pd.DataFrame], day: int) -> pd.DataFrame:
    cohort = data["patients"][data["patients"]["infusion_date"].notna()]
    cohort = cohort.merge(data["outcomes"], on="patient_id", how="left")
    landmark_date = cohort["infusion_date"] + pd.Timedelta(days=day)
    if day > 0:
        event = (cohort["progression_date"] <= landmark_date) | (cohort["death_date"] <= landmark_date)
        cohort, landmark_date = cohort[~event], landmark_date[~event]
    return cohort.assign(end_of_landmark=landmark_date + pd.Timedelta(days=1)).sort_values("patient_id")


def _pandas_pivot(chosen: pd.DataFrame, cohort: pd.DataFrame, specs: list) -> pd.DataFrame:
    numeric = chosen.pivot(index="patient_id", columns="feature", values="value")
    text = chosen.pivot(index="patient_id", columns="feature", values="value_text")
    columns = {s.name: (text if s.type == "category" else numeric).get(s.name) for s in specs}
    wide = pd.DataFrame({k: v for k, v in columns.items() if v is not None})
    return wide.reindex(index=cohort["patient_id"].to_numpy(), columns=[s.name for s in specs])


def _compare(store: Path, data: dict[str, pd.DataFrame], catalogue: Catalogue, landmark: str) -> list[list[str]]:
    clock = time.perf_counter()
    with open_store(store, read_only=True) as con:
        duck = point_in_time_values(con, catalogue, landmark)
    duck_s = time.perf_counter() - clock
    clock = time.perf_counter()
    frame = build_feature_frame(store, landmark=landmark)
    frame_s = time.perf_counter() - clock
    clock = time.perf_counter()
    panda = pandas_point_in_time(data, catalogue, landmark)
    pandas_s = time.perf_counter() - clock
    same = _same_values(duck.set_index("patient_id"), panda, catalogue, landmark)
    cells = f"{len(duck):,} x {len(catalogue.window_features(landmark))}"
    return [
        [f"point-in-time {landmark} ({cells})", f"{duck_s:.2f} s", f"{pandas_s:.2f} s", f"{pandas_s / duck_s:.1f}x",
         "same values" if same else "VALUES DIFFER"],
        [f"  full frame incl. derived ({frame.shape[1]} columns)", f"{frame_s:.2f} s", "", "", ""],
    ]


def _same_values(duck: pd.DataFrame, panda: pd.DataFrame, catalogue: Catalogue, landmark: str) -> bool:
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


def _load_for_pandas(store: Path) -> tuple[dict[str, pd.DataFrame], float]:
    clock = time.perf_counter()
    with open_store(store, read_only=True) as con:
        data = {
            "patients": con.execute("SELECT patient_id, infusion_date FROM patients").df(),
            "outcomes": con.execute("SELECT patient_id, progression_date, death_date FROM outcomes").df(),
            "observations": con.execute(
                "SELECT patient_id, biomarker, value, value_text, collected_at, reported_at, ingest_id,"
                " source_file, source_line FROM observations").df(),
        }
    for frame in data.values():
        for column in frame.columns:
            if column.endswith("_date"):
                frame[column] = pd.to_datetime(frame[column]).astype("datetime64[ns]")
    for column in ("collected_at", "reported_at"):
        data["observations"][column] = data["observations"][column].astype("datetime64[ns]")
    return data, time.perf_counter() - clock


def _bare_copy(raw: Path, path: Path) -> float:
    """Seconds to copy every CSV of ``raw`` as text into a new DuckDB file (same storage format)."""
    clock = time.perf_counter()
    con = duckdb.connect(str(path), config={"storage_compatibility_version": STORAGE_VERSION})
    try:
        for i, csv_file in enumerate(sorted(raw.glob("*.csv"))):
            con.execute(f"CREATE TABLE t{i} AS SELECT * FROM read_csv(?, all_varchar = true)", [str(csv_file)])
    finally:
        con.close()
    return time.perf_counter() - clock


def _load() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg()) + f" (1/5/15 min, {os.cpu_count()} cores)"


def _rows(report, seconds: float, copy_s: float) -> list[list[str]]:  # noqa: ANN001 - IngestReport
    rate = report.read / seconds
    target = "ok (target 500k rows/s)" if rate >= 500_000 else "BELOW target 500k rows/s"
    return [
        [f"ingest ({report.read:,} rows, {report.quarantined:,} quarantined)", f"{seconds:.2f} s",
         "", f"{rate:,.0f} rows/s", target],
        ["  bare CSV copy into DuckDB, no validation (ceiling)", f"{copy_s:.2f} s", "",
         f"{report.read / copy_s:,.0f} rows/s", f"ingest = {copy_s / seconds:.0%} of it"],
    ]


def _table(rows: list[list[str]]) -> Table:
    table = Table(title="feature store benchmark")
    for name in ("step", "duckdb", "pandas", "ratio / rate", "check"):
        table.add_column(name, justify="left" if name in ("step", "check") else "right")
    for row in rows:
        table.add_row(*row)
    return table


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=2024)
    return parser.parse_args()


if __name__ == "__main__":
    main()
