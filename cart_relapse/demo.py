"""``make demo``: the whole job end to end on embedded defaults, printing what each step did."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
from rich.table import Table

from features.catalogue import MODALITIES, load_catalogue

from .console import console


def run_demo(*, patients: int, seed: int, data_dir: Path) -> None:
    """Synthesise a dirty registry, ingest it, build both landmark frames, train and report."""
    from features.frame import build_feature_frame, write_frame
    from features.ingest import ingest_directory
    from features.store import read_quarantine
    from synth import generate_registry, write_registry

    raw, store = data_dir / "raw", data_dir / "store.duckdb"
    os.environ.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{(data_dir / 'mlflow.db').resolve()}")
    for stale in (raw, store, store.with_suffix(".duckdb.wal")):
        if stale.is_dir():
            shutil.rmtree(stale)
        elif stale.exists():
            stale.unlink()
    console.rule("1. synthetic registry (with realistic bad rows)")
    with console.status(f"generating {patients:,} patients"):
        write_registry(generate_registry(n_patients=patients, seed=seed, dirty=True), raw)
    console.print(f"wrote {raw}/ (patients, clinical, imaging, ctdna, cellular, outcomes)")

    console.rule("2. ingest into the feature store")
    report = ingest_directory(raw, store=store)
    console.print(report.render())

    console.rule("3. point-in-time feature frames")
    frames = {}
    for landmark in load_catalogue().landmarks:
        frames[landmark] = build_feature_frame(store, landmark=landmark)
        write_frame(frames[landmark], data_dir / f"features_{landmark}.parquet")
    console.print(summary_table(frames))
    console.print(missingness_table(frames))
    console.print(quarantine_table(read_quarantine(store)))

    console.rule("4. train, compare with clinical scores, register in MLflow")
    from training.job import run_training

    run_training(store, list(frames), console=console)

    console.rule("5. HTTP API: one sample patient per landmark")
    serve_samples(frames)

    console.rule("6. batch scoring of the registry cohort")
    from serving.score_job import run_scoring

    for landmark in frames:
        run = run_scoring(
            landmark=landmark, out=scores_path(data_dir, landmark), store=store, console=console
        )
        console.print(
            f"wrote {run.out}: {run.rows:,} patients scored with {run.model} in {run.seconds:.1f} s"
        )
    console.print("open the MLflow UI on the demo's store: [bold]make ui[/] (then http://127.0.0.1:5000)")


def scores_path(data_dir: Path, landmark: str) -> Path:
    """Where the demo writes a landmark's scores.

    ``scores.parquet`` for the first catalogue landmark (infusion day), ``scores_<landmark>.parquet`` for the
    others.
    """
    first = next(iter(load_catalogue().landmarks))
    return data_dir / ("scores.parquet" if landmark == first else f"scores_{landmark}.parquet")


def serve_samples(frames: dict[str, pd.DataFrame]) -> None:
    """Start `cart-relapse serve` in the background, send one patient per landmark, stop it."""
    from cart_relapse.process import api_server

    with api_server() as base:
        for landmark, frame in frames.items():
            response = httpx.post(
                f"{base}/v1/predict/{landmark}", json=_sample_patient(frame, landmark), timeout=30
            )
            response.raise_for_status()
            console.print(prediction_table(landmark, response.json()))
    console.print(f"server at {base} stopped")


def prediction_table(landmark: str, body: dict[str, Any]) -> Table:
    """The sample patient's risk curve, risk group and top drivers, as the API returned them."""
    model = body["model"]
    curve = ", ".join(f"{int(days) / 30.44:.0f} mo {risk:.2f}" for days, risk in body["risk_curve"].items())
    title = (
        f"{landmark}: risk of progression or death after the landmark: {curve} "
        f"({body['risk_group']} risk group; {model['name']} v{model['version']})"
    )
    table = Table(title=title, caption=body["notice"])
    for col in ("top driver", "value", "contribution (log relative hazard)", "modality"):
        table.add_column(col)
    for item in body["explanation"]["contributions"][:5]:
        table.add_row(item["feature"], str(item["value"]), f"{item['contribution']:+.3f}", item["modality"])
    return table


def _sample_patient(frame: pd.DataFrame, landmark: str) -> dict[str, Any]:
    """The most completely documented patient of the frame, as an API request."""
    from cart_relapse.process import request_features

    names = load_catalogue().feature_names(landmark)
    row = frame.loc[[frame[names].notna().sum(axis=1).idxmax()]].iloc[0]
    return {"patient_id": "demo-sample", "features": request_features(row, names)}


def summary_table(frames: dict[str, pd.DataFrame]) -> Table:
    """One row per landmark frame: patients, features (of the catalogue's count) and the file written."""
    table = Table(title="landmark frames")
    for col in ("landmark", "patients", "features", "file"):
        table.add_column(col)
    catalogue = load_catalogue()
    for landmark, frame in frames.items():
        table.add_row(
            landmark,
            f"{len(frame):,}",
            str(len(catalogue.feature_names(landmark))),
            f"features_{landmark}.parquet",
        )
    return table


def missingness_table(frames: dict[str, pd.DataFrame]) -> Table:
    """Per landmark and modality: share of feature cells missing, share of patients with none."""
    catalogue = load_catalogue()
    table = Table(title="missingness by modality (cells missing / patients with no value of the modality)")
    table.add_column("landmark")
    for modality in MODALITIES:
        table.add_column(modality, justify="right")
    for landmark, frame in frames.items():
        cells = []
        for modality in MODALITIES:
            names = [
                s.name
                for s in catalogue.feature_specs(landmark)
                if s.modality == modality and s.source == "biomarker"
            ]
            block = frame[names].isna()
            cells.append(f"{block.to_numpy().mean():.0%} / {block.all(axis=1).mean():.0%}")
        table.add_row(landmark, *cells)
    return table


def quarantine_table(quarantine: pd.DataFrame) -> Table:
    """Quarantined rows counted by reason, most frequent first."""
    table = Table(title=f"quarantined rows: {len(quarantine):,}")
    table.add_column("reason")
    table.add_column("rows", justify="right")
    for reason, count in quarantine["reason"].value_counts().items():
        table.add_row(str(reason), f"{count:,}")
    return table
