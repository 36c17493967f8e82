"""One phase of the feature-store benchmark, run in a process of its own by bench/feature_store.py.

Usage: ``python bench/feature_store_phases.py PHASE --out RESULT.json --raw DIR --store FILE [...]``
with PHASE one of ``generate``, ``ingest``, ``retrieve``, ``frame``, ``pandas``, ``ceiling``. The
result (wall and CPU seconds of the step itself, counts) is written as JSON to ``--out``; the
parent reads this process's peak resident memory from the kernel when it ends (``os.wait4``), so it
includes DuckDB's own memory.

The registry: ``generate_registry(n, seed)`` exactly when n is at most ``--shard``; above that,
shards of ``--shard`` patients, shard k drawn with seed ``seed + k``, its patient ids renumbered
``P0000001``... (disjoint across shards) and appended to the same CSV files, so the generator's
memory is that of one shard whatever n is.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from features.catalogue import load_catalogue
from features.frame import build_feature_frame
from features.ingest import ingest_directory
from features.pit import point_in_time_values
from features.store import STORAGE_VERSION, open_store
from synth import generate_registry, write_registry

OBSERVATION_TABLES = ("clinical", "imaging", "ctdna", "cellular")


def generate(args: argparse.Namespace) -> dict:
    """Write the registry of ``args.patients`` patients as CSV into ``args.raw``."""
    clock = _Clock()
    if args.patients <= args.shard:
        write_registry(generate_registry(n_patients=args.patients, seed=args.seed), args.raw, fmt="csv")
    else:
        for k, start in enumerate(range(0, args.patients, args.shard)):
            size = min(args.shard, args.patients - start)
            _append_shard(
                generate_registry(n_patients=size, seed=args.seed + k), args.raw, start, first=k == 0
            )
    rows = {p.stem: _csv_rows(p) for p in sorted(args.raw.glob("*.csv"))}
    return clock.spent() | {"rows": rows, "observations": sum(rows[t] for t in OBSERVATION_TABLES)}


def ingest(args: argparse.Namespace) -> dict:
    """Ingest ``args.raw`` into a new store ``args.store``."""
    args.store.unlink(missing_ok=True)
    clock = _Clock()
    report = ingest_directory(args.raw, store=args.store)
    spent = clock.spent()
    with open_store(args.store, read_only=True) as con:
        limit, threads = con.execute(
            "SELECT current_setting('memory_limit'), current_setting('threads')"
        ).fetchone()
    return spent | {
        "read": report.read,
        "quarantined": report.quarantined,
        "store_mb": args.store.stat().st_size / 2**20,
        "memory_limit": limit,
        "threads": threads,
    }


def retrieve(args: argparse.Namespace) -> dict:
    """``point_in_time_values`` of ``args.landmark`` (the retrieval the table reports)."""
    catalogue = load_catalogue()
    clock = _Clock()
    with open_store(args.store, read_only=True) as con:
        values = point_in_time_values(con, catalogue, args.landmark)
    return clock.spent() | {
        "rows": len(values),
        "columns": values.shape[1],
        "frame_mb": values.memory_usage(deep=True).sum() / 2**20,
    }


def frame(args: argparse.Namespace) -> dict:
    """``build_feature_frame`` of ``args.landmark``: retrieval plus derived features and dtypes."""
    clock = _Clock()
    built = build_feature_frame(args.store, landmark=args.landmark)
    return clock.spent() | {"rows": len(built), "columns": built.shape[1]}


def baseline(args: argparse.Namespace) -> dict:
    """The pandas ``merge_asof`` baseline of both landmarks against the DuckDB retrieval."""
    from pandas_pit import (
        load_for_pandas,
        pandas_point_in_time,
        same_values,
    )

    catalogue = load_catalogue()
    clock = time.perf_counter()
    data = load_for_pandas(args.store)
    out: dict = {"load_seconds": time.perf_counter() - clock}
    for landmark in catalogue.landmarks:
        clock = time.perf_counter()
        with open_store(args.store, read_only=True) as con:
            duck = point_in_time_values(con, catalogue, landmark)
        duck_s = time.perf_counter() - clock
        clock = time.perf_counter()
        panda = pandas_point_in_time(data, catalogue, landmark)
        out[landmark] = {
            "duckdb_seconds": duck_s,
            "pandas_seconds": time.perf_counter() - clock,
            "same": same_values(duck.set_index("patient_id"), panda, catalogue, landmark),
        }
    return out


def ceiling(args: argparse.Namespace) -> dict:
    """Seconds to copy every CSV of ``args.raw`` as text into a new DuckDB file (no validation)."""
    path = args.store.with_name("copy.duckdb")
    path.unlink(missing_ok=True)
    clock = _Clock()
    con = duckdb.connect(str(path), config={"storage_compatibility_version": STORAGE_VERSION})
    try:
        for i, csv_file in enumerate(sorted(args.raw.glob("*.csv"))):
            con.execute(
                f"CREATE TABLE t{i} AS SELECT * FROM read_csv(?, all_varchar = true)", [str(csv_file)]
            )
    finally:
        con.close()
    spent = clock.spent()
    path.unlink()
    return spent


PHASES: dict[str, Callable[[argparse.Namespace], dict]] = {
    "generate": generate,
    "ingest": ingest,
    "retrieve": retrieve,
    "frame": frame,
    "pandas": baseline,
    "ceiling": ceiling,
}


class _Clock:
    """Wall seconds, and CPU seconds of every thread of this process (DuckDB's included), since made."""

    def __init__(self) -> None:
        self._wall, self._cpu = time.perf_counter(), time.process_time()

    def spent(self) -> dict[str, float]:
        return {"seconds": time.perf_counter() - self._wall, "cpu_seconds": time.process_time() - self._cpu}


def _append_shard(tables: dict[str, pd.DataFrame], raw: Path, start: int, *, first: bool) -> None:
    """Renumber a shard's patient ids from ``start`` + 1 and append its tables to the CSV files."""
    old = tables["patients"]["patient_id"].to_numpy()
    new = np.array([f"P{start + i:07d}" for i in range(1, len(old) + 1)], dtype=object)
    raw.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        codes = pd.Categorical(table["patient_id"], categories=old).codes
        if (codes < 0).any():
            raise RuntimeError(f"{name}: a patient_id that is not in the shard's patients")
        table = table.assign(patient_id=new[codes])
        table.to_csv(
            raw / f"{name}.csv", mode="w" if first else "a", header=first, index=False, encoding="utf-8"
        )


def _csv_rows(path: Path) -> int:
    """Data rows of a CSV written by pandas (no line breaks inside values): lines minus the header."""
    with path.open("rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 24), b"")) - 1


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("phase", choices=sorted(PHASES))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--raw", type=Path, required=True)
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--patients", type=int, default=0)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--shard", type=int, default=100_000)
    parser.add_argument("--landmark", default="preinfusion")
    return parser.parse_args()


if __name__ == "__main__":
    arguments = _parse_args()
    arguments.out.write_text(json.dumps(PHASES[arguments.phase](arguments)))
