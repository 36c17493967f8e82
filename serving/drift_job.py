"""``cart-relapse drift`` and ``score --drift-report``: a batch against the model's reference profile.

The profile is the ``drift_profile`` artifact of the registered pyfunc (written at training). The
batch's scores are the pyfunc's ``relapse_probability`` (given by ``score``, else computed here).
The report can be logged to MLflow as a ``drift-*`` run in the model's experiment, with the
registered version tagged ``drift.last_run_id`` / ``drift.n_flagged``.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from models.drift import ProfileError, compare_to_profile
from models.drift_profile import PROFILE_ARTIFACT, SCORE_COLUMN

from .drift_report import write_drift_report
from .loader import configure_tracking, describe_error
from .model_ref import Column, ModelRef, ModelRefError, conform_inputs, model_columns, resolve_model_ref
from .settings import Settings

SCORE_CHUNK_ROWS = 50_000


class DriftError(RuntimeError):
    """The drift report cannot be made.

    No profile, an unreadable batch or the wrong landmark: the message says which.
    """


@dataclass(frozen=True)
class DriftRun:
    """What one drift check wrote (JSON and HTML reports), what it flagged, and its MLflow run."""

    json_path: Path
    html_path: Path
    model: str
    rows: int
    flagged: list[str]
    score_flagged: bool
    mlflow_run_id: str | None = None


def run_drift(
    *,
    landmark: str,
    out_dir: Path,
    input_path: Path | None = None,
    frame: pd.DataFrame | None = None,
    scores: Sequence[float] | np.ndarray | None = None,
    model_uri: str | None = None,
    log_to_mlflow: bool = False,
) -> DriftRun:
    """Compare a batch with the landmark model's reference profile and write ``drift.json``/``drift.html``.

    Args:
        landmark: the model's landmark (checked against the model's metadata).
        out_dir: the report folder.
        input_path: a feature-frame Parquet (read unless ``frame`` is given).
        frame: the batch's features in memory.
        scores: the model's ``relapse_probability`` for the batch (computed with the pyfunc if None).
        model_uri: default ``models:/cart-relapse-<landmark>@<alias>`` (the champion).
        log_to_mlflow: also log the report as a run in the model's experiment.

    Raises:
        DriftError: the model has no profile, is for another landmark, or the batch is unusable.
    """
    settings = Settings()
    configure_tracking(settings)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    try:
        ref = resolve_model_ref(model_uri or settings.model_uri(landmark))
        inputs, _, metadata = model_columns(ref)
    except ModelRefError as exc:
        raise DriftError(str(exc)) from exc
    if metadata.get("landmark") not in (None, landmark):
        raise DriftError(f"{ref.label} is the {metadata['landmark']!r} model, not {landmark!r}")
    profile = load_profile(ref)
    if frame is None:
        if input_path is None:
            raise DriftError("give the batch: --input FEATURES.parquet")
        frame = read_batch(
            input_path, [*profile["features"], *(c.name for c in inputs)], profile.get("centre_column")
        )
    if scores is None:
        scores = score_batch(ref, frame, inputs, source=str(input_path or "the batch"))
    try:
        result = compare_to_profile(profile, frame, scores)
    except ProfileError as exc:
        raise DriftError(f"{input_path or 'the batch'}: {exc}") from exc
    result = {
        "landmark": landmark,
        "model": {"uri": ref.uri, "name": ref.name, "version": ref.version, "label": ref.label},
        "input": str(input_path) if input_path else "feature store",
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **result,
    }
    json_path, html_path = write_drift_report(result, out_dir)
    run_id = log_drift_run(ref, result, (json_path, html_path)) if log_to_mlflow else None
    summary = result["summary"]
    return DriftRun(
        json_path,
        html_path,
        ref.label,
        result["n_rows"],
        summary["flagged"],
        summary["score_flagged"],
        run_id,
    )


def load_profile(ref: ModelRef) -> dict[str, Any]:
    """The model's reference profile (the ``drift_profile`` artifact listed in its MLmodel).

    Raises:
        DriftError: the version was registered without a profile, or the profile cannot be read.
    """
    import mlflow

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    try:
        artifacts = (
            mlflow.models.get_model_info(ref.pinned).flavors.get("python_function", {}).get("artifacts") or {}
        )
    except Exception as exc:
        raise DriftError(f"cannot read {ref.label}: {describe_error(exc)}") from exc
    entry = artifacts.get(PROFILE_ARTIFACT)
    if entry is None:
        raise DriftError(
            f"{ref.label} has no drift reference profile (it was registered before models stored one); "
            "train and register a new version with `cart-relapse train`, or pass --model-uri of a version "
            "that has one"
        )
    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = mlflow.artifacts.download_artifacts(
                artifact_uri=f"{ref.pinned}/{entry['path']}", dst_path=tmp
            )
            profile: dict[str, Any] = json.loads(Path(path).read_text())
            return profile
        except Exception as exc:
            raise DriftError(f"cannot read the drift profile of {ref.label}: {describe_error(exc)}") from exc


def read_batch(path: Path, columns: Sequence[str], centre_column: str | None) -> pd.DataFrame:
    """The needed columns of a feature-frame Parquet (the centre column too when present).

    Raises:
        DriftError: unreadable file or missing columns (named).
    """
    try:
        present = set(pq.ParquetFile(path).schema_arrow.names)
    except (OSError, ValueError) as exc:
        raise DriftError(f"cannot read {path}: {exc}") from exc
    wanted = list(dict.fromkeys(columns))
    absent = [c for c in wanted if c not in present]
    if absent:
        raise DriftError(
            f"{path} lacks column(s) {absent[:10]}{' ...' if len(absent) > 10 else ''} of the model "
            "(was it written for this landmark?)"
        )
    if centre_column and centre_column in present:
        wanted.append(centre_column)
    return pd.read_parquet(path, columns=wanted)


def score_batch(ref: ModelRef, frame: pd.DataFrame, inputs: list[Column], *, source: str) -> np.ndarray:
    """The pyfunc's ``relapse_probability`` for every row of ``frame`` (scored in chunks)."""
    import mlflow

    try:
        model = mlflow.pyfunc.load_model(ref.pinned)
        conformed = conform_inputs(frame, inputs, source=source)
    except ModelRefError as exc:
        raise DriftError(str(exc)) from exc
    except Exception as exc:
        raise DriftError(f"cannot load {ref.label}: {describe_error(exc)}") from exc
    parts = []
    for start in range(0, len(conformed), SCORE_CHUNK_ROWS):
        predicted = model.predict(conformed.iloc[start : start + SCORE_CHUNK_ROWS])
        if SCORE_COLUMN not in predicted.columns:
            raise DriftError(f"{ref.label} returns no {SCORE_COLUMN!r} column; cannot profile its scores")
        parts.append(predicted[SCORE_COLUMN].to_numpy(dtype=float))
    return np.concatenate(parts) if parts else np.array([], dtype=float)


def log_drift_run(ref: ModelRef, result: dict[str, Any], paths: Sequence[Path]) -> str:
    """Log the report as a ``drift-<landmark>-v<version>`` run in the model's experiment; tag the version.

    Raises:
        DriftError: the model is not a registered version.
    """
    import mlflow
    from mlflow import MlflowClient

    if ref.name is None or ref.version is None:
        raise DriftError(
            "--log-to-mlflow needs a registered model (models:/NAME@ALIAS or models:/NAME/VERSION)"
        )
    client = MlflowClient()
    version = client.get_model_version(ref.name, ref.version)
    experiment_id = client.get_run(version.run_id).info.experiment_id if version.run_id else None
    summary, score = result["summary"], result.get("score") or {}
    with mlflow.start_run(
        experiment_id=experiment_id, run_name=f"drift-{result['landmark']}-v{ref.version}"
    ) as run:
        mlflow.set_tags(
            {
                "kind": "drift",
                "landmark": result["landmark"],
                "model_name": ref.name,
                "model_version": ref.version,
                "input": result["input"],
                "drift.flagged": ",".join(summary["flagged"])[:5000],
            }
        )
        metrics = {
            "n_rows": result["n_rows"],
            "n_flagged": summary["n_flagged"],
            **{f"psi.{f['name']}": f["psi"] for f in result["features"]},
        }
        if "psi" in score:
            metrics["score_psi"] = score["psi"]
        mlflow.log_metrics({k: float(v) for k, v in metrics.items()})
        for path in paths:
            mlflow.log_artifact(str(path), artifact_path="drift")
    run_id: str = run.info.run_id
    client.set_model_version_tag(ref.name, ref.version, "drift.last_run_id", run_id)
    client.set_model_version_tag(ref.name, ref.version, "drift.n_flagged", str(summary["n_flagged"]))
    return run_id
