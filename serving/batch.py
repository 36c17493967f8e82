"""Batch scoring of a registry cohort: stream chunks through the model, write one Parquet atomically.

Each chunk goes through ``RelapsePredictor.predict_frame`` (the pyfunc's own code path), so the
file holds the numbers the API and ``mlflow.pyfunc`` give. Two worker threads each score a chunk
on one XGBoost thread (both cores busy, no OpenMP team stalls); at most ``workers + 1`` chunks are
in flight, so memory stays bounded. The output goes to a temporary file beside the destination and
replaces it only when complete: a failure leaves any previous file untouched.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import xgboost as xgb

from models.predictor import CONTRIB_PREFIX, RelapsePredictor

TOP_DRIVERS = 3
DEFAULT_CHUNK_ROWS = 10_000


class ScoringInputError(ValueError):
    """The cohort cannot be scored by this model (names the columns or the landmark)."""


def score_cohort(
    predictor: RelapsePredictor,
    chunks: Iterable[pd.DataFrame],
    out: Path,
    *,
    workers: int = 2,
    on_chunk: Callable[[int], None] | None = None,
) -> int:
    """Score every chunk and write ``out`` (Parquet) atomically.

    Args:
        predictor: the model.
        chunks: feature frames (``patient_id`` plus the model's feature columns).
        out: destination; replaced only once every chunk is written.
        workers: scoring threads (each uses one XGBoost thread).
        on_chunk: called with the row count of each written chunk (progress bars).

    Returns:
        The number of patients scored.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as handle:
            rows = _write_parquet(
                score_chunks(predictor, chunks, workers=workers), handle, output_schema(predictor), on_chunk
            )
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, out)
    finally:
        temporary.unlink(missing_ok=True)
    return rows


def score_chunks(
    predictor: RelapsePredictor, chunks: Iterable[pd.DataFrame], *, workers: int = 2
) -> Iterator[pa.Table]:
    """Scored chunks (``score_table``) in input order, from ``workers`` threads with bounded look-ahead."""
    single = RelapsePredictor(predictor.booster.copy(), predictor.metadata)
    single.booster.set_param({"nthread": 1})
    pending: deque[Future[pa.Table]] = deque()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="score") as pool:
        try:
            for chunk in chunks:
                pending.append(pool.submit(_score_single_thread, single, chunk))
                if len(pending) > workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


def score_table(predictor: RelapsePredictor, frame: pd.DataFrame) -> pa.Table:
    """Score one chunk.

    Columns: patient_id, the risk at each horizon, ``relapse_probability``, risk group, margin, base value,
    top drivers and every contribution.

    The numbers are ``RelapsePredictor.predict_frame``'s (the same ``explain_frame``, ``risks`` and
    ``risk_groups``), laid out straight into Arrow columns.
    """
    missing = [c for c in ("patient_id", *predictor.feature_names) if c not in frame.columns]
    if missing:
        raise ScoringInputError(
            f"the cohort lacks column(s) {missing[:10]}{' ...' if len(missing) > 10 else ''} "
            f"needed by the {predictor.metadata.landmark} model"
        )
    result = predictor.explain_frame(frame)
    margin = result.margin
    risks = predictor.risks(margin)
    headline = predictor.headline_risk(risks)
    columns: dict[str, pa.Array] = {
        "patient_id": pa.array(frame["patient_id"].astype(str).to_numpy(), pa.string())
    }
    columns.update(
        {name: pa.array(np.ascontiguousarray(risks[:, j])) for j, name in enumerate(predictor.risk_columns)}
    )
    columns.update(
        {
            "relapse_probability": pa.array(headline),
            "risk_group": pa.array(predictor.risk_groups(headline), pa.string()),
            "margin": pa.array(margin),
            "base_value": pa.array(result.base_value),
        }
    )
    columns.update(top_drivers(result.contributions, predictor.feature_names))
    by_feature = np.ascontiguousarray(result.contributions.T)
    columns.update(
        {CONTRIB_PREFIX + name: pa.array(by_feature[j]) for j, name in enumerate(predictor.feature_names)}
    )
    return pa.table(columns)


def top_drivers(contributions: np.ndarray, names: tuple[str, ...]) -> dict[str, pa.Array]:
    """``top{k}_feature`` / ``top{k}_contribution``: each row's k largest absolute contributions.

    Largest first.
    """
    k = min(TOP_DRIVERS, contributions.shape[1])
    size = np.abs(contributions)
    candidates = (
        np.argpartition(-size, k - 1, axis=1)[:, :k]
        if k < contributions.shape[1]
        else np.indices(size.shape)[1]
    )
    order = np.take_along_axis(
        candidates, np.argsort(-np.take_along_axis(size, candidates, 1), axis=1, kind="stable"), 1
    )
    labels = np.asarray(names, dtype=object)[order]
    values = np.take_along_axis(contributions, order, axis=1)
    columns: dict[str, pa.Array] = {}
    for i in range(k):
        columns[f"top{i + 1}_feature"] = pa.array(labels[:, i], pa.string())
        columns[f"top{i + 1}_contribution"] = pa.array(values[:, i])
    return columns


def parquet_chunks(
    path: Path, predictor: RelapsePredictor, chunk_rows: int = DEFAULT_CHUNK_ROWS
) -> tuple[int, Iterator[pd.DataFrame]]:
    """(row count, chunks) of a feature-frame Parquet file, reading only the columns the model needs.

    Raises:
        ScoringInputError: the file lacks ``patient_id`` or some of the model's features.
    """
    parquet = pq.ParquetFile(path)
    present = set(parquet.schema_arrow.names)
    needed = ["patient_id", *predictor.feature_names]
    missing = [c for c in needed if c not in present]
    if missing:
        raise ScoringInputError(
            f"{path} lacks column(s) {missing[:10]}{' ...' if len(missing) > 10 else ''} "
            f"needed by the {predictor.metadata.landmark} model (was it written for this landmark?)"
        )
    batches = parquet.iter_batches(batch_size=chunk_rows, columns=needed)
    return parquet.metadata.num_rows, (batch.to_pandas() for batch in batches)


def frame_chunks(frame: pd.DataFrame, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> Iterator[pd.DataFrame]:
    """Consecutive row slices of an in-memory frame."""
    for start in range(0, len(frame), chunk_rows):
        yield frame.iloc[start : start + chunk_rows]


def _write_parquet(
    tables: Iterable[pa.Table],
    handle: BinaryIO,
    schema: pa.Schema,
    on_chunk: Callable[[int], None] | None,
) -> int:
    """Write every table to ``handle`` as one Parquet file (dictionary-encoding the text columns only)."""
    text = [f.name for f in schema if pa.types.is_string(f.type)]
    writer = pq.ParquetWriter(handle, schema, use_dictionary=text)
    rows = 0
    try:
        for table in tables:
            writer.write_table(table)
            rows += table.num_rows
            if on_chunk is not None:
                on_chunk(table.num_rows)
    finally:
        writer.close()
    return rows


def _score_single_thread(predictor: RelapsePredictor, chunk: pd.DataFrame) -> pa.Table:
    with xgb.config_context(nthread=1):
        return score_table(predictor, chunk)


def output_schema(predictor: RelapsePredictor) -> pa.Schema:
    """The columns of the scores file, in order."""
    fields = [
        ("patient_id", pa.string()),
        *((name, pa.float64()) for name in predictor.risk_columns),
        ("relapse_probability", pa.float64()),
        ("risk_group", pa.string()),
        ("margin", pa.float64()),
        ("base_value", pa.float64()),
    ]
    for i in range(min(TOP_DRIVERS, len(predictor.feature_names))):
        fields += [(f"top{i + 1}_feature", pa.string()), (f"top{i + 1}_contribution", pa.float64())]
    fields += [(CONTRIB_PREFIX + name, pa.float64()) for name in predictor.feature_names]
    return pa.schema(fields)
