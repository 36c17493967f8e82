"""``cart-relapse score --engine spark``: score with Spark.

Score a feature Parquet or a Spark table with the registered pyfunc through ``mlflow.pyfunc.spark_udf``.

The UDF returns every output of the model's signature as one struct (so the columns follow the
model's contract, whatever it returns); the written Parquet has the local engine's layout:
``patient_id``, the non-contribution outputs, ``top{k}_feature``/``top{k}_contribution`` (largest
absolute contributions, computed in Spark) and the ``contrib__*`` columns. Each Python worker loads
the model once and scores Arrow batches with the pyfunc's own ``predict``: the numbers are the local
engine's. Works with a session you pass (a cluster) or starts a ``local[2]`` one.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from models.predictor import CONTRIB_PREFIX

from .batch import TOP_DRIVERS
from .model_ref import Column, ModelRef, ModelRefError, model_columns
from .spark_session import LOCAL_MASTER, local_spark_session

if TYPE_CHECKING:
    from pyspark.sql import Column as SparkColumn
    from pyspark.sql import DataFrame, SparkSession

ID_COLUMN = "patient_id"
_SPARK_TYPES = {
    "double": "double",
    "string": "string",
    "float": "float",
    "long": "bigint",
    "integer": "int",
    "boolean": "boolean",
}


@dataclass(frozen=True)
class SparkScoringRun:
    """What one Spark scoring run wrote: rows and output location."""

    rows: int
    out: str


def score_with_spark(
    ref: ModelRef,
    *,
    out: str | Path,
    input_path: Path | None = None,
    table: str | None = None,
    spark: SparkSession | None = None,
    master: str = LOCAL_MASTER,
) -> SparkScoringRun:
    """Score ``input_path`` (Parquet) or ``table`` and write ``out`` (a Parquet folder).

    Args:
        ref: the pinned model.
        out: destination; a local path is replaced only once complete, a URI (``hdfs://``,
            ``s3a://``) is overwritten by Spark.
        input_path: a feature-frame Parquet (give this or ``table``).
        table: a Spark table name (give this or ``input_path``).
        spark: an existing ``SparkSession``; None starts one on ``master`` and stops it at the end.
        master: Spark master when starting a session.

    Raises:
        ModelRefError: unusable model signature or input columns; SparkSetupError: no pyspark/Java.
    """
    if (input_path is None) == (table is None):
        raise ValueError("give exactly one of input_path and table")
    session = spark or local_spark_session(master=master)
    try:
        source = str(input_path) if input_path is not None else str(table)
        frame = session.read.parquet(source) if input_path is not None else session.table(source)
        scored = score_dataframe(session, frame, ref, source=source)
        rows = write_scores(session, scored, str(out))
    finally:
        if spark is None:
            session.stop()
    return SparkScoringRun(rows=rows, out=str(out))


def score_dataframe(
    spark: SparkSession, frame: DataFrame, ref: ModelRef, *, source: str = "the input"
) -> DataFrame:
    """A Spark DataFrame of scores for ``frame`` (``patient_id`` plus the model's feature columns).

    Args:
        spark: the session (the UDF is registered on it).
        frame: features; extra columns are ignored, input columns cast to the signature's types.
        ref: the pinned model.
        source: named in the error about missing columns.

    Returns:
        A lazy DataFrame with the columns described in the module docstring.
    """
    import mlflow.pyfunc
    from pyspark.sql import functions as sf

    inputs, outputs, _ = model_columns(ref)
    absent = [c for c in (ID_COLUMN, *(i.name for i in inputs)) if c not in frame.columns]
    if absent:
        raise ModelRefError(
            f"{source} lacks column(s) {absent[:10]}{' ...' if len(absent) > 10 else ''} needed by "
            f"{ref.label}"
        )
    predict = mlflow.pyfunc.spark_udf(
        spark, ref.pinned, result_type=result_type(outputs), env_manager="local"
    )
    features = sf.struct(*[sf.col(c.name).cast(_spark_type(c)).alias(c.name) for c in inputs])
    scored = frame.select(
        sf.col(ID_COLUMN).cast("string").alias(ID_COLUMN), predict(features).alias("_scores")
    )
    scored = scored.select(ID_COLUMN, "_scores.*")
    contributions = [c.name for c in outputs if c.name.startswith(CONTRIB_PREFIX)]
    others = [c.name for c in outputs if not c.name.startswith(CONTRIB_PREFIX)]
    return scored.select(ID_COLUMN, *others, *top_driver_columns(contributions), *contributions)


def result_type(outputs: list[Column]) -> str:
    """The UDF's struct type (DDL) with one field per signature output, in order."""
    return ", ".join(f"`{c.name}` {_spark_type(c)}" for c in outputs)


def top_driver_columns(contributions: list[str]) -> list[SparkColumn]:
    """``top{k}_feature``/``top{k}_contribution`` expressions.

    The k largest absolute contributions, largest first (ties: the feature earlier in the signature first).
    """
    from pyspark.sql import functions as sf

    if not contributions:
        return []
    entries = sf.array(
        *[
            sf.struct(
                (-sf.abs(sf.col(c))).alias("key"),
                sf.lit(j).alias("order"),
                sf.lit(c.removeprefix(CONTRIB_PREFIX)).alias("feature"),
                sf.col(c).alias("value"),
            )
            for j, c in enumerate(contributions)
        ]
    )
    ranked = sf.array_sort(entries)
    columns = []
    for k in range(min(TOP_DRIVERS, len(contributions))):
        columns += [
            ranked[k]["feature"].alias(f"top{k + 1}_feature"),
            ranked[k]["value"].alias(f"top{k + 1}_contribution"),
        ]
    return columns


def write_scores(spark: SparkSession, scored: DataFrame, out: str) -> int:
    """Write ``scored`` as Parquet at ``out``; returns the row count written.

    A local path is written to a temporary sibling folder first and swapped in only when complete,
    so a failure leaves any previous output untouched.
    """
    if "://" in out:
        scored.write.mode("overwrite").parquet(out)
        return spark.read.parquet(out).count()
    target = Path(out).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        scored.write.mode("errorifexists").parquet(str(temporary))
        rows = spark.read.parquet(str(temporary)).count()
        _swap(temporary, target)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    return rows


def _swap(new: Path, target: Path) -> None:
    """Replace ``target`` (file or folder, if any) with the folder ``new``."""
    old = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.old")
    if target.exists():
        os.replace(target, old)
    try:
        os.replace(new, target)
    except OSError:
        if old.exists():
            os.replace(old, target)
        raise
    if old.is_dir():
        shutil.rmtree(old)
    else:
        old.unlink(missing_ok=True)


def _spark_type(column: Column) -> str:
    try:
        return _SPARK_TYPES[column.type]
    except KeyError:
        raise ModelRefError(
            f"model column {column.name!r} has type {column.type}, which Spark scoring does not map"
        ) from None
