"""``cart-relapse score``: load the model, stream the cohort through it with a progress bar.

``engine="spark"`` scores a Parquet file or a Spark table with ``serving.spark_scoring`` instead;
``drift_report`` then compares the cohort and its scores with the model's reference profile.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow.parquet as pq
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from .batch import frame_chunks, parquet_chunks, score_cohort
from .loader import LoadFailure, configure_tracking, describe_error, load_landmark
from .settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from .drift_job import DriftRun
    from .model_ref import ModelRef

ENGINES = ("local", "spark")


class ScoringError(RuntimeError):
    """The model cannot be loaded or the cohort cannot be read (message says which)."""


@dataclass(frozen=True)
class ScoringRun:
    """What one batch-scoring run did: rows, time, the model and where it wrote, and the drift check."""

    rows: int
    seconds: float
    model: str
    out: Path
    model_uri: str | None = None  # the pinned version that scored (models:/NAME/VERSION)
    drift: DriftRun | None = None


def run_scoring(
    *,
    landmark: str,
    out: Path,
    store: Path = Path("data/store.duckdb"),
    input_path: Path | None = None,
    model_uri: str | None = None,
    chunk_rows: int = 10_000,
    workers: int = 2,
    console: Console | None = None,
    engine: str = "local",
    table: str | None = None,
    drift_report: Path | None = None,
    spark_master: str | None = None,
) -> ScoringRun:
    """Score the landmark cohort from ``input_path`` (a feature-frame Parquet) or else ``store``.

    Args:
        landmark: the catalogue landmark to score.
        out: the scores file (Parquet) to write.
        store: the feature store read when no ``input_path`` is given.
        input_path: a feature-frame Parquet to score instead of the store's cohort.
        model_uri: the model to use (default: the landmark's registered champion).
        chunk_rows: rows per scored chunk (local engine).
        workers: threads scoring chunks in parallel (local engine).
        console: where progress is printed (a new rich console by default).
        engine: ``local`` (chunks in this process) or ``spark`` (``input_path`` or ``table`` required).
        table: a Spark table of features (spark engine only).
        drift_report: also write ``drift.json``/``drift.html`` for this cohort into this folder.
        spark_master: Spark master URL (default ``local[2]``).

    Raises:
        ScoringError: model not loadable (e.g. no champion) or an unusable input.
    """
    console = console or Console()
    settings = Settings()
    configure_tracking(settings)
    uri = model_uri or settings.model_uri(landmark)
    if engine not in ENGINES:
        raise ScoringError(f"--engine must be one of {list(ENGINES)}, not {engine!r}")
    if engine == "local" and table is not None:
        raise ScoringError("--table needs --engine spark (the local engine reads --input or --store)")
    if engine == "spark" and (input_path is None) == (table is None):
        raise ScoringError("--engine spark needs exactly one of --input FEATURES.parquet and --table NAME")
    if engine == "spark":
        return _run_spark(
            landmark=landmark,
            uri=uri,
            out=out,
            input_path=input_path,
            table=table,
            drift_report=drift_report,
            master=spark_master,
            console=console,
        )
    run, frame = _run_local(
        landmark=landmark,
        uri=uri,
        out=out,
        store=store,
        input_path=input_path,
        chunk_rows=chunk_rows,
        workers=workers,
        console=console,
    )
    if drift_report is None:
        return run
    return replace(
        run, drift=_drift(landmark, run, drift_report, input_path=input_path, frame=frame, console=console)
    )


def _run_local(
    *,
    landmark: str,
    uri: str,
    out: Path,
    store: Path,
    input_path: Path | None,
    chunk_rows: int,
    workers: int,
    console: Console,
) -> tuple[ScoringRun, pd.DataFrame | None]:
    """The local engine; also returns the frame it built from the store (None for a Parquet input)."""
    model = load_landmark(landmark, uri)
    if isinstance(model, LoadFailure):
        raise ScoringError(model.reason)
    predictor = model.predictor
    frame = None
    if input_path is not None:
        total, chunks = parquet_chunks(input_path, predictor, chunk_rows)
    else:
        from features.frame import build_feature_frame

        with console.status(f"building the {landmark} feature frame from {store}"):
            frame = build_feature_frame(store, landmark=landmark)
        total, chunks = len(frame), frame_chunks(frame, chunk_rows)
    label = f"{model.name} v{model.version}" if model.version else model.uri
    start = time.perf_counter()
    with _progress(console) as progress:
        task = progress.add_task(f"scoring with {label}", total=total)
        rows = score_cohort(
            predictor, chunks, out, workers=workers, on_chunk=lambda n: progress.advance(task, n)
        )
    pinned = f"models:/{model.name}/{model.version}" if model.version else uri
    return ScoringRun(
        rows=rows, seconds=time.perf_counter() - start, model=label, out=out, model_uri=pinned
    ), frame


def _run_spark(
    *,
    landmark: str,
    uri: str,
    out: Path,
    input_path: Path | None,
    table: str | None,
    drift_report: Path | None,
    master: str | None,
    console: Console,
) -> ScoringRun:
    """The Spark engine (one session for scoring and, for a table, collecting the drift features)."""
    from .model_ref import ModelRefError, model_columns, resolve_model_ref
    from .spark_scoring import score_with_spark
    from .spark_session import LOCAL_MASTER, SparkSetupError, local_spark_session

    if input_path is not None and "://" not in str(input_path) and not Path(input_path).exists():
        raise ScoringError(f"{input_path}: no such file or folder")
    try:
        ref = resolve_model_ref(uri)
        model_landmark = model_columns(ref)[2].get("landmark")
        if model_landmark not in (None, landmark):
            raise ScoringError(f"{ref.label} is the {model_landmark!r} model, not {landmark!r}")
        start = time.perf_counter()
        with console.status(f"starting Spark ({master or LOCAL_MASTER})"):
            session = local_spark_session(master=master or LOCAL_MASTER)
        try:
            with console.status(f"scoring with {ref.label} on Spark"):
                scored = score_with_spark(ref, out=out, input_path=input_path, table=table, spark=session)
            frame = (
                _table_features(session, table, ref)
                if drift_report is not None and table is not None
                else None
            )
        finally:
            session.stop()
    except (ModelRefError, SparkSetupError) as exc:
        raise ScoringError(str(exc)) from exc
    except Exception as exc:
        if not type(exc).__module__.startswith(("pyspark", "py4j")):
            raise
        raise ScoringError(f"Spark could not score {input_path or table}: {describe_error(exc)}") from exc
    run = ScoringRun(
        rows=scored.rows, seconds=time.perf_counter() - start, model=ref.label, out=out, model_uri=ref.pinned
    )
    if drift_report is None:
        return run
    return replace(
        run, drift=_drift(landmark, run, drift_report, input_path=input_path, frame=frame, console=console)
    )


def _table_features(session: SparkSession, table: str, ref: ModelRef) -> pd.DataFrame:
    """The profiled feature columns (and ``center``) of a Spark table, collected for the drift report."""
    from .drift_job import load_profile

    profile = load_profile(ref)
    source = session.table(table)
    wanted = [c for c in (*profile["features"], profile.get("centre_column")) if c and c in source.columns]
    features: pd.DataFrame = source.select(*wanted).toPandas()
    return features


def _drift(
    landmark: str,
    run: ScoringRun,
    out_dir: Path,
    *,
    input_path: Path | None,
    frame: pd.DataFrame | None,
    console: Console,
) -> DriftRun:
    """The drift report of the cohort just scored, with the scores from the written file."""
    from .drift_job import DriftError, run_drift

    scores = pq.read_table(run.out, columns=["relapse_probability"]).column(0).to_numpy()
    try:
        with console.status("comparing the cohort with the model's reference profile"):
            return run_drift(
                landmark=landmark,
                out_dir=out_dir,
                input_path=input_path,
                frame=frame,
                scores=scores,
                model_uri=run.model_uri,
            )
    except DriftError as exc:
        raise ScoringError(f"scores written to {run.out}, but no drift report: {exc}") from exc


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )
