"""Training benchmark: time per stage of `cart-relapse train --landmark all` on 5,000 patients.

Target (issue: training): both landmarks trained, evaluated, tracked and registered within 3 minutes
on this 2-core machine. Run: `.venv/bin/python bench/bench_training.py [--patients 5000]`.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from features.catalogue import load_catalogue

TARGET_S = 180.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{root / 'mlflow.db'}"
        rows, total = _run(root, args.patients, args.seed)
    table = Table(title=f"training benchmark: {args.patients:,} patients, {os.cpu_count()} cores")
    table.add_column("stage")
    table.add_column("seconds", justify="right")
    for stage, seconds in rows:
        table.add_row(stage, f"{seconds:.1f}")
    train_total = sum(s for stage, s in rows if stage.startswith((*load_catalogue().landmarks, "mlflow")))
    table.add_row("[bold]train --landmark all (total)", f"[bold]{train_total:.1f}")
    console.print(table)
    verdict = "meets" if train_total <= TARGET_S else "MISSES"
    console.print(
        f"train --landmark all: {train_total:.1f} s vs target {TARGET_S:.0f} s -> {verdict} "
        f"(ratio {train_total / TARGET_S:.2f} of budget); whole pipeline incl. data prep {total:.1f} s"
    )


def _run(root: Path, patients: int, seed: int) -> tuple[list[tuple[str, float]], float]:
    from features.ingest import ingest_directory
    from synth import generate_registry, write_registry
    from training.dataset import load_training_data
    from training.fit import train_landmark
    from training.register import log_and_register
    from training.tracking import setup_tracking

    rows: list[tuple[str, float]] = []
    start = time.perf_counter()
    clock = time.perf_counter()
    write_registry(generate_registry(n_patients=patients, seed=seed), root / "raw")
    rows.append(("synthetic registry", time.perf_counter() - clock))
    clock = time.perf_counter()
    ingest_directory(root / "raw", store=root / "store.duckdb")
    rows.append(("ingest", time.perf_counter() - clock))
    clock = time.perf_counter()
    setup_tracking()
    rows.append(("mlflow setup (import + store)", time.perf_counter() - clock))
    for landmark in load_catalogue().landmarks:
        clock = time.perf_counter()
        data = load_training_data(root / "store.duckdb", landmark)
        rows.append((f"{landmark}: features + labels", time.perf_counter() - clock))
        result = train_landmark(data, seed=seed)
        rows += [
            (f"{landmark}: {k.removesuffix('_s').replace('_', ' ')}", v) for k, v in result.timings.items()
        ]
        clock = time.perf_counter()
        log_and_register(result, tags={"landmark": landmark, "bench": "true"})
        rows.append((f"{landmark}: mlflow logging + registration", time.perf_counter() - clock))
    return rows, time.perf_counter() - start


if __name__ == "__main__":
    main()
