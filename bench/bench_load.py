"""Load test: 10,000 requests from 16 concurrent clients against a running `cart-relapse serve`.

Loopback only; bounded in count and time. Starts the API on the champions of the tracking store
(`$MLFLOW_TRACKING_URI`, else `data/mlflow.db` as left by `make demo`); with no champions there, it
trains a small registry into a temporary store first. Requests are real patients from the landmark
frames: 90% single-patient predictions (both landmarks alternating), 10% batches of 8.
Prints throughput and latency percentiles; exits 1 on any error.

Usage: `python bench/bench_load.py [--requests 10000] [--clients 16]`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from features.catalogue import load_catalogue

REPO = Path(__file__).resolve().parent.parent
LANDMARKS = tuple(load_catalogue().landmarks)
TIME_LIMIT_S = 600.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=16)
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        uri, frames = _registry(Path(tmp), console)
        from cart_relapse.process import api_server

        with api_server(env={"MLFLOW_TRACKING_URI": uri}) as base:
            results = _load(base, frames, args.requests, args.clients)
    errors = sum(1 for status, _ in results if status != 200)
    console.print(_table(results, args, errors))
    sys.exit(1 if errors else 0)


def _registry(workdir: Path, console: Console) -> tuple[str, dict[str, pd.DataFrame]]:
    """Champions and feature frames: the demo's if present, else a small registry trained here."""
    from features.frame import build_feature_frame

    uri = os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{REPO / 'data' / 'mlflow.db'}"
    store = REPO / "data" / "store.duckdb"
    if _has_champions(uri) and store.exists():
        console.print(f"using the champions in {uri}")
        return uri, {lm: build_feature_frame(store, landmark=lm) for lm in load_catalogue().landmarks}
    from features.ingest import ingest_directory
    from synth import generate_registry, write_registry
    from training.job import run_training

    uri, store = f"sqlite:///{workdir / 'mlflow.db'}", workdir / "store.duckdb"
    console.print("no champions found: training a 2,000-patient registry into a temporary store")
    write_registry(generate_registry(n_patients=2000, seed=11), workdir / "raw")
    ingest_directory(workdir / "raw", store=store)
    os.environ["MLFLOW_TRACKING_URI"] = uri
    run_training(store, list(load_catalogue().landmarks), n_configs=1, console=Console(quiet=True))
    return uri, {lm: build_feature_frame(store, landmark=lm) for lm in load_catalogue().landmarks}


def _has_champions(uri: str) -> bool:
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).exists():
        return False
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    try:
        for landmark in load_catalogue().landmarks:
            client.get_model_version_by_alias(f"cart-relapse-{landmark}", "champion")
    except Exception:
        return False
    return True


def _bodies(frames: dict[str, pd.DataFrame], n: int) -> list[tuple[str, str]]:
    """(path, JSON body) pairs: real patients, alternating landmarks; every tenth a batch of 8."""
    from cart_relapse.process import request_features
    from features.catalogue import load_catalogue

    catalogue = load_catalogue()
    rows = {
        lm: [request_features(r, catalogue.feature_names(lm)) for _, r in f.head(400).iterrows()]
        for lm, f in frames.items()
    }
    bodies = []
    for i in range(n):
        landmark = LANDMARKS[i % len(LANDMARKS)]
        pool = rows[landmark]
        if i % 10 == 9:
            patients = [
                {"patient_id": f"load-{i}-{k}", "features": pool[(i + k) % len(pool)]} for k in range(8)
            ]
            bodies.append((f"/v1/predict/{landmark}/batch", json.dumps({"patients": patients})))
        else:
            bodies.append(
                (
                    f"/v1/predict/{landmark}",
                    json.dumps({"patient_id": f"load-{i}", "features": pool[i % len(pool)]}),
                )
            )
    return bodies


def _load(base: str, frames: dict[str, pd.DataFrame], n: int, clients: int) -> list[tuple[int, float]]:
    bodies = _bodies(frames, n)
    results: list[tuple[int, float]] = []
    lock = threading.Lock()
    deadline = time.monotonic() + TIME_LIMIT_S

    def worker(k: int) -> None:
        mine = []
        with httpx.Client(base_url=base, timeout=30, headers={"content-type": "application/json"}) as client:
            for path, body in bodies[k::clients]:
                if time.monotonic() > deadline:
                    break
                start = time.perf_counter()
                try:
                    status = client.post(path, content=body).status_code
                except httpx.HTTPError:
                    status = -1
                mine.append((status, time.perf_counter() - start))
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    _load.elapsed = time.perf_counter() - start  # type: ignore[attr-defined]
    return results


def _table(results: list[tuple[int, float]], args: argparse.Namespace, errors: int) -> Table:
    latencies = np.array([lat for _, lat in results]) * 1000
    elapsed = _load.elapsed  # type: ignore[attr-defined]
    table = Table(
        title=f"load test: {len(results):,} requests, {args.clients} concurrent clients, loopback, "
        f"{os.cpu_count()} cores"
    )
    for col in ("requests", "errors", "seconds", "throughput (req/s)", "p50 (ms)", "p99 (ms)", "max (ms)"):
        table.add_column(col, justify="right")
    table.add_row(
        f"{len(results):,}",
        str(errors),
        f"{elapsed:.1f}",
        f"{len(results) / elapsed:,.0f}",
        f"{np.percentile(latencies, 50):.1f}",
        f"{np.percentile(latencies, 99):.1f}",
        f"{latencies.max():.1f}",
    )
    return table


if __name__ == "__main__":
    main()
