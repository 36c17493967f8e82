"""Serving benchmark: this API against ``mlflow models serve`` on the same registered model, and
batch scoring against raw XGBoost ``pred_contribs``.

1. Model: the ``champion`` of both landmarks from ``--tracking-uri`` / ``$MLFLOW_TRACKING_URI`` /
   ``data/mlflow.db`` when that registry has them; otherwise (or with ``--self-trained``) two
   XGBoost models (250 trees, depth 3: training's defaults) fitted on factory frames and registered
   with ``models.packaging.log_packaged_model`` into a temporary sqlite store.
2. Latency: starts ``cart-relapse serve`` and ``mlflow models serve --env-manager local -m
   models:/cart-relapse-day30@champion`` (one uvicorn worker each, loopback, both up at once) and
   sends both the same single-patient requests (full feature rows, as the feature store writes
   them; both answers carry the risk curve and every TreeSHAP contribution), alternating between
   them so both see the same machine load: sequential, then 8 concurrent clients in alternating
   rounds. Also times this API on raw biomarkers only (derived features computed server-side).
3. Batch: 100k patients from a Parquet feature frame through ``serving.batch.score_cohort`` (read,
   encode, explain, top drivers, write) against raw XGBoost on the same, already-encoded float32
   matrix in memory (``DMatrix`` + ``predict(pred_contribs=True)``, all cores); best of
   ``--repeats`` alternating runs each.
4. Engines (``--engines``): ``--engine-patients`` (default 1M) patients with every TreeSHAP
   contribution through both engines of ``cart-relapse score``: local (``serving.batch.score_cohort``,
   2 worker threads, as the CLI runs it) and Spark ``local[2]`` (``serving.spark_scoring``, the
   pyfunc in ``mlflow.pyfunc.spark_udf``), Parquet in and out, same model, side by side; the
   outputs are compared value by value. Spark's session start is timed apart from the scoring.

Usage: ``python bench/bench_serving.py [--requests 500] [--clients 8] [--patients 100000]
[--engines [--engine-patients 1000000]]``.
Targets: API p50 <= 5 ms with the full explanation and >= 3x faster than MLflow's server; batch
scoring >= 80% of raw pred_contribs throughput.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from cart_relapse.process import api_server, free_port, venv_env, wait_ready
from features.catalogue import load_catalogue
from models.predictor import MODEL_FORMAT
from synth.frames import random_feature_frame, random_survival_frame

REPO = Path(__file__).resolve().parent.parent
LANDMARK = list(load_catalogue().landmarks)[-1]  # the landmark with the most features (day 30)
P50_TARGET_MS, SPEEDUP_TARGET, BATCH_TARGET = 5.0, 3.0, 0.80


def main() -> None:
    args = _parse_args()
    console = Console(width=max(150, Console().width))
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as tmp:
        workdir = Path(tmp)
        uri, origin = _tracking_store(args, workdir, console)
        console.print(f"model: cart-relapse-{LANDMARK}@champion from {origin} ({uri})")
        latency = None
        if not args.batch_only:
            frame, _ = random_feature_frame(args.requests, LANDMARK, seed=args.seed, missing=0.15)
            latency = _latency_benchmarks(args, uri, frame, workdir, console)
        batch = _batch_benchmark(args, uri, workdir, console)
        engines = _engine_benchmark(args, uri, workdir, console) if args.engines else None
    console.print(_results_table(latency, batch, origin))
    if engines is not None:
        console.print(_engines_table(engines))
    console.print(
        f"load average during the run: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores (shared machine)"
    )


# ---------------------------------------------------------------------------------------- models


def _tracking_store(args: argparse.Namespace, workdir: Path, console: Console) -> tuple[str, str]:
    """(tracking URI, where the model came from): the existing champions, else self-trained ones."""
    uri = (
        args.tracking_uri
        or os.environ.get("MLFLOW_TRACKING_URI")
        or f"sqlite:///{(REPO / 'data' / 'mlflow.db').resolve()}"
    )
    if not args.self_trained and _has_champions(uri):
        return uri, "the training pipeline's registry"
    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    with console.status("no registered champions: fitting and registering small models in a temporary store"):
        _register_self_trained(uri, workdir, seed=args.seed)
    return uri, "self-trained bench models (250 trees, depth 3, factory frames)"


def _has_champions(uri: str) -> bool:
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).exists():
        return False
    from mlflow import MlflowClient

    try:
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        versions = [
            client.get_model_version_by_alias(f"cart-relapse-{lm}", "champion")
            for lm in load_catalogue().landmarks
        ]
    except Exception:
        return False
    return all(
        v.tags.get("model_format") == str(MODEL_FORMAT) for v in versions
    )  # retired formats cannot be served


def _register_self_trained(uri: str, workdir: Path, *, seed: int) -> None:
    import mlflow
    from mlflow import MlflowClient

    from models.packaging import log_packaged_model
    from models.predictor import HORIZONS_DAYS, ModelMetadata, RelapsePredictor, RiskThresholds
    from models.xgb_survival import XGBCoxSurvival

    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    experiment = mlflow.create_experiment("bench-serving", artifact_location=(workdir / "artifacts").as_uri())
    for landmark in load_catalogue().landmarks:
        frame, targets = random_survival_frame(3000, landmark, seed=seed)
        specs = load_catalogue().feature_specs(landmark)
        model = XGBCoxSurvival(specs, n_estimators=250, max_depth=3, random_state=seed).fit(frame, targets)
        ranges = {
            s.name: (float(frame[s.name].quantile(0.005)), float(frame[s.name].quantile(0.995)))
            for s in specs
            if s.type in ("float", "int")
        }
        metadata = ModelMetadata(
            landmark=landmark,
            baseline_cumulative_hazard=tuple(model.baseline_at(HORIZONS_DAYS)),
            margin_slope=model.slope_,
            features=specs,
            thresholds=RiskThresholds(low=0.3, high=0.6),
            training_ranges=ranges,
            metrics={},
            training_fingerprint="bench",
            trained_at="bench",
        )
        with mlflow.start_run(experiment_id=experiment):
            info = log_packaged_model(
                RelapsePredictor(model.booster_, metadata),
                workdir / f"model-{landmark}",
                f"cart-relapse-{landmark}",
            )
        MlflowClient().set_registered_model_alias(
            f"cart-relapse-{landmark}", "champion", str(info.registered_model_version)
        )


# ---------------------------------------------------------------------------------------- latency


def _latency_benchmarks(
    args: argparse.Namespace, uri: str, frame: pd.DataFrame, workdir: Path, console: Console
) -> dict[str, Any]:
    """Both servers up at once; requests alternate between them so both see the same machine load."""
    derived = {s.name for s in load_catalogue().feature_specs(LANDMARK) if s.source == "derived"}
    columns = [s.name for s in load_catalogue().feature_specs(LANDMARK)]
    rows = [_features(row) for _, row in frame.iterrows()]
    bodies = {
        "api": [json.dumps({"features": r}) for r in rows],
        "api_raw": [json.dumps({"features": {k: v for k, v in r.items() if k not in derived}}) for r in rows],
        "mlflow": [
            json.dumps({"dataframe_split": {"columns": columns, "data": [[r[c] for c in columns]]}})
            for r in rows
        ],
    }
    env = {"MLFLOW_TRACKING_URI": uri, "MLFLOW_REGISTRY_URI": uri, "CART_RELAPSE_API_TOKEN": ""}
    mlflow_port = free_port()
    mlflow_cmd = [
        sys.executable,
        "-m",
        "mlflow",
        "models",
        "serve",
        "--env-manager",
        "local",
        "-m",
        f"models:/cart-relapse-{LANDMARK}@champion",
        "-p",
        str(mlflow_port),
        "-h",
        "127.0.0.1",
        "-w",
        "1",
    ]
    checks = {"api": _check_api, "mlflow": _check_mlflow, "api_raw": _check_api}
    console.print("starting cart-relapse serve and mlflow models serve (loopback)")
    with (
        api_server(env=env, timeout=180) as api_base,
        _mlflow_server(mlflow_cmd, workdir, venv_env(env), f"http://127.0.0.1:{mlflow_port}/ping"),
    ):
        url = f"{api_base}/v1/predict/{LANDMARK}"
        urls = {"api": url, "mlflow": f"http://127.0.0.1:{mlflow_port}/invocations", "api_raw": url}
        with console.status(f"{args.requests} sequential requests to each, alternating"):
            results: dict[str, Any] = {
                key: {"sequential": t} for key, t in _sequential(urls, bodies, checks, args).items()
            }
        with console.status(f"{args.clients} concurrent clients, alternating rounds"):
            for key in ("api", "mlflow"):
                results[key]["concurrent"], results[key]["seconds"] = [], 0.0
            for _ in range(args.rounds):
                for key in ("api", "mlflow"):
                    latencies, seconds = _concurrent(urls[key], bodies[key], checks[key], args)
                    results[key]["concurrent"] += latencies
                    results[key]["seconds"] += seconds
        with httpx.Client(headers=_JSON) as client:
            api = [client.post(urls["api"], content=b).json() for b in bodies["api"][:50]]
            theirs = [
                client.post(urls["mlflow"], content=b).json()["predictions"][0] for b in bodies["mlflow"][:50]
            ]
    for key in ("api", "mlflow"):
        results[key]["throughput"] = len(results[key]["concurrent"]) / results[key]["seconds"]
    results["clients"] = args.clients
    results["parity"] = max(
        max(abs(a["risk_curve"][str(h)] - b[f"risk_{h}d"]) for h in (90, 180, 365, 730))
        for a, b in zip(api, theirs, strict=True)
    )
    return results


_JSON = {"content-type": "application/json"}


def _features(row: pd.Series) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for spec in load_catalogue().feature_specs(LANDMARK):
        value = row[spec.name]
        missing = value is None or (isinstance(value, float) and math.isnan(value))
        out[spec.name] = None if missing else str(value) if spec.type == "category" else float(value)
    return out


def _check_api(body: dict[str, Any]) -> None:
    assert len(body["explanation"]["contributions"]) > 10 and len(body["risk_curve"]) == 4, body


def _check_mlflow(body: dict[str, Any]) -> None:
    row = body["predictions"][0]
    assert sum(k.startswith("contrib__") for k in row) > 10 and "risk_730d" in row, body


Check = Callable[[dict[str, Any]], None]


def _sequential(
    urls: dict[str, str], bodies: dict[str, list[str]], checks: dict[str, Check], args: argparse.Namespace
) -> dict[str, list[float]]:
    """Patient by patient, one request to each target in turn (after untimed warm-up requests)."""
    times: dict[str, list[float]] = {key: [] for key in urls}
    with httpx.Client(headers=_JSON, timeout=30.0) as client:
        for i in range(args.warmup):
            for key in urls:
                checks[key](
                    client.post(urls[key], content=bodies[key][i % len(bodies[key])])
                    .raise_for_status()
                    .json()
                )
        for i in range(len(bodies["api"])):
            for key in urls:
                times[key] += _timed_posts(client, urls[key], [bodies[key][i]], checks[key])
    return times


def _concurrent(
    url: str, bodies: list[str], check: Check, args: argparse.Namespace
) -> tuple[list[float], float]:
    """One round: ``args.clients`` threads, each with its own connection, share the round's requests."""
    per_client = max(1, args.concurrent_requests // (args.clients * args.rounds))
    latencies: list[list[float]] = [[] for _ in range(args.clients)]

    def worker(k: int) -> None:
        with httpx.Client(headers=_JSON, timeout=30.0) as client:
            latencies[k] = _timed_posts(
                client, url, [bodies[(k * per_client + i) % len(bodies)] for i in range(per_client)], check
            )

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(args.clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [x for part in latencies for x in part], time.perf_counter() - start


def _timed_posts(client: httpx.Client, url: str, bodies: list[str], check: Check) -> list[float]:
    times = []
    for body in bodies:
        start = time.perf_counter()
        response = client.post(url, content=body)
        times.append(time.perf_counter() - start)
        check(response.raise_for_status().json())
    return times


@contextmanager
def _mlflow_server(cmd: list[str], cwd: Path, env: dict[str, str], ready_url: str) -> Iterator[None]:
    """``mlflow models serve`` runs uvicorn as a child process: start it in its own process group,
    stop the whole group, and show its log if it never gets ready."""
    log_path = cwd / "mlflow-serve.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            try:
                wait_ready(ready_url, process, timeout=180)
            except (RuntimeError, TimeoutError) as exc:
                raise RuntimeError(f"{exc}:\n{log_path.read_text()[-3000:]}") from None
            yield
        finally:
            _stop_group(process)


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


# ---------------------------------------------------------------------------------------- batch


def _batch_benchmark(args: argparse.Namespace, uri: str, workdir: Path, console: Console) -> dict[str, float]:
    import xgboost as xgb

    from features.frame import write_frame
    from models.encode import encode_features
    from serving.batch import parquet_chunks, score_cohort
    from serving.loader import LoadFailure, configure_tracking, load_landmark
    from serving.settings import Settings

    configure_tracking(Settings(mlflow_tracking_uri=uri))
    model = load_landmark(LANDMARK, f"models:/cart-relapse-{LANDMARK}@champion")
    if isinstance(model, LoadFailure):
        raise RuntimeError(model.reason)
    predictor = model.predictor
    with console.status(f"writing {args.patients:,} patients as a feature frame"):
        frame, _ = random_feature_frame(args.patients, LANDMARK, seed=args.seed + 1)
        source, out = workdir / "features.parquet", workdir / "scores.parquet"
        write_frame(frame, source)
        matrix = encode_features(frame, predictor.metadata.features)
        del frame
    raw_times, ours_times = [], []
    for repeat in range(args.repeats):
        with console.status(f"batch run {repeat + 1}/{args.repeats}: raw pred_contribs"):
            start = time.perf_counter()
            dmatrix = xgb.DMatrix(matrix, missing=np.nan, feature_names=list(predictor.feature_names))
            predictor.booster.predict(dmatrix, pred_contribs=True, validate_features=False)
            raw_times.append(time.perf_counter() - start)
        with console.status(f"batch run {repeat + 1}/{args.repeats}: score_cohort (Parquet in, Parquet out)"):
            start = time.perf_counter()
            _, chunks = parquet_chunks(source, predictor)
            rows = score_cohort(predictor, chunks, out)
            ours_times.append(time.perf_counter() - start)
        assert rows == args.patients
    console.print(
        f"batch runs (s, alternating): raw pred_contribs {[round(t, 2) for t in raw_times]}, "
        f"score_cohort {[round(t, 2) for t in ours_times]}"
    )
    return {
        "patients": args.patients,
        "raw": args.patients / min(raw_times),
        "ours": args.patients / min(ours_times),
        "raw_s": min(raw_times),
        "ours_s": min(ours_times),
    }


def _engine_benchmark(args: argparse.Namespace, uri: str, workdir: Path, console: Console) -> dict[str, Any]:
    """Local engine vs Spark local[2] on the same Parquet cohort, with the largest output difference."""
    from features.frame import write_frame
    from serving.batch import parquet_chunks, score_cohort
    from serving.loader import LoadFailure, load_landmark
    from serving.model_ref import resolve_model_ref
    from serving.spark_scoring import score_with_spark
    from serving.spark_session import local_spark_session

    os.environ["MLFLOW_TRACKING_URI"] = uri
    model_uri = f"models:/cart-relapse-{LANDMARK}@champion"
    model = load_landmark(LANDMARK, model_uri)
    if isinstance(model, LoadFailure):
        raise RuntimeError(model.reason)
    n = args.engine_patients
    source = workdir / "engine_features.parquet"
    with console.status(f"writing {n:,} patients as a feature frame"):
        frame, _ = random_feature_frame(n, LANDMARK, seed=args.seed + 2)
        write_frame(frame, source)
        del frame
    local_out, spark_out = workdir / "engine_local.parquet", workdir / "engine_spark"
    with console.status(f"local engine: {n:,} patients"):
        start = time.perf_counter()
        _, chunks = parquet_chunks(source, model.predictor)
        rows = score_cohort(model.predictor, chunks, local_out, workers=2)
        local_s = time.perf_counter() - start
    assert rows == n
    ref = resolve_model_ref(model_uri)
    with console.status("starting Spark local[2]"):
        start = time.perf_counter()
        session = local_spark_session(master="local[2]")
        start_s = time.perf_counter() - start
    try:
        with console.status(f"Spark local[2]: {n:,} patients"):
            start = time.perf_counter()
            run = score_with_spark(ref, out=spark_out, input_path=source, spark=session)
            spark_s = time.perf_counter() - start
    finally:
        session.stop()
    assert run.rows == n
    return {
        "patients": n,
        "local_s": local_s,
        "spark_s": spark_s,
        "spark_start_s": start_s,
        "max_diff": _largest_difference(local_out, spark_out),
    }


def _largest_difference(local_out: Path, spark_out: Path) -> float:
    """The largest absolute difference over every numeric output column, rows matched on patient_id."""
    local = pd.read_parquet(local_out).set_index("patient_id").sort_index()
    spark = pd.read_parquet(spark_out).set_index("patient_id").sort_index()
    numeric = [c for c in local.columns if pd.api.types.is_float_dtype(local[c]) and c in spark.columns]
    if not local.index.equals(spark.index) or not numeric:
        raise RuntimeError("local and Spark outputs do not hold the same patients and numeric columns")
    diff = local[numeric].to_numpy(np.float64) - spark[numeric].to_numpy(np.float64)
    return float(np.nanmax(np.abs(diff)))


# ---------------------------------------------------------------------------------------- report


def _engines_table(engines: dict[str, Any]) -> Table:
    n = engines["patients"]
    table = Table(
        title=f"batch scoring of {n:,} patients with every TreeSHAP contribution, Parquet in and out"
    )
    for column in ("engine", "seconds", "patients/s", "time vs local"):
        table.add_column(column, justify="left" if column == "engine" else "right")
    table.add_row(
        "local (score_cohort, 2 threads)",
        f"{engines['local_s']:.1f}",
        f"{n / engines['local_s']:,.0f}",
        "1.00x",
    )
    table.add_row(
        "Spark local[2] (spark_udf)",
        f"{engines['spark_s']:.1f}",
        f"{n / engines['spark_s']:,.0f}",
        f"{engines['spark_s'] / engines['local_s']:.2f}x",
    )
    table.add_row("Spark session start (once)", f"{engines['spark_start_s']:.1f}", "", "")
    table.caption = f"largest absolute difference between the engines' outputs: {engines['max_diff']:.3g}"
    return table


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values) * 1e3, q))


def _results_table(latency: dict[str, Any] | None, batch: dict[str, float], origin: str) -> Table:
    table = Table(
        title=f"serving benchmark ({origin}); single-patient requests with every TreeSHAP contribution"
    )
    for column in ("measure", "cart-relapse API", "mlflow models serve", "ratio", "target", "met"):
        table.add_column(column, justify="left" if column == "measure" else "right")

    if latency is not None:
        _latency_rows(table, latency)
    share = batch["ours"] / batch["raw"]
    table.add_row(
        f"batch {batch['patients']:,.0f}: score_cohort (Parquet->Parquet) vs raw DMatrix+pred_contribs (in "
        "memory)",
        f"{batch['ours']:,.0f} patients/s ({batch['ours_s']:.1f} s)",
        f"raw: {batch['raw']:,.0f}/s ({batch['raw_s']:.1f} s)",
        f"{share:.0%}",
        f">= {BATCH_TARGET:.0%}",
        _yes(share >= BATCH_TARGET),
    )
    return table


def _latency_rows(table: Table, latency: dict[str, Any]) -> None:
    api, raw, mlf = latency["api"], latency["api_raw"], latency["mlflow"]

    def row(
        label: str, ours: float, theirs: float | None, unit: str, target: str = "", met: str = ""
    ) -> None:
        ratio = f"{theirs / ours:.1f}x" if theirs else ""
        table.add_row(
            label, f"{ours:.2f} {unit}", f"{theirs:.2f} {unit}" if theirs else "", ratio, target, met
        )

    for mode in ("sequential", "concurrent"):
        label = "sequential" if mode == "sequential" else f"{_clients(latency)} concurrent clients"
        p50, their50 = _pct(api[mode], 50), _pct(mlf[mode], 50)
        met = f"{_yes(p50 <= P50_TARGET_MS)} / {_yes(their50 / p50 >= SPEEDUP_TARGET)}"
        row(f"{label}: p50", p50, their50, "ms", f"<= {P50_TARGET_MS:g} ms / >= {SPEEDUP_TARGET:g}x", met)
        row(f"{label}: p99", _pct(api[mode], 99), _pct(mlf[mode], 99), "ms")
    table.add_row(
        f"{_clients(latency)} concurrent clients: throughput",
        f"{api['throughput']:.0f} req/s",
        f"{mlf['throughput']:.0f} req/s",
        f"{api['throughput'] / mlf['throughput']:.1f}x",
        "",
        "",
    )
    row(
        "raw biomarkers (derived computed), sequential p50",
        _pct(raw["sequential"], 50),
        None,
        "ms",
        f"<= {P50_TARGET_MS:g} ms",
        _yes(_pct(raw["sequential"], 50) <= P50_TARGET_MS),
    )
    row("raw biomarkers (derived computed), sequential p99", _pct(raw["sequential"], 99), None, "ms")
    table.add_row(
        "API vs MLflow max |diff| in risk at 90-730 days (50 patients)",
        f"{latency['parity']:.1e}",
        "",
        "",
        "0",
        "",
    )


def _yes(met: bool) -> str:
    return "yes" if met else "NO"


def _clients(latency: dict[str, Any]) -> int:
    return int(latency["clients"])


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500, help="sequential requests per server")
    parser.add_argument(
        "--concurrent-requests", type=int, default=800, help="requests over all concurrent clients"
    )
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients")
    parser.add_argument("--warmup", type=int, default=30, help="untimed requests first")
    parser.add_argument("--patients", type=int, default=100_000, help="batch-scoring cohort size")
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds of concurrent requests")
    parser.add_argument("--repeats", type=int, default=3, help="alternating batch runs (best of each)")
    parser.add_argument("--batch-only", action="store_true", help="skip the HTTP latency part")
    parser.add_argument(
        "--engines", action="store_true", help="also score a cohort with the local engine and Spark local[2]"
    )
    parser.add_argument(
        "--engine-patients", type=int, default=1_000_000, help="cohort size of the engine comparison"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--tracking-uri",
        default=None,
        help="MLflow store with the champions (default: $MLFLOW_TRACKING_URI, data/mlflow.db)",
    )
    parser.add_argument(
        "--self-trained",
        action="store_true",
        help="always fit and register bench models in a temporary store",
    )
    return parser.parse_args()


if __name__ == "__main__":
    main()
