"""MLflow set-up: an explicit tracking URI (never MLflow's own default) checked before training."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from .dataset import TrainingError

EXPERIMENT = "cart-relapse"
DEFAULT_DB = Path("data/mlflow.db")
DEFAULT_ARTIFACTS = Path("data/mlartifacts")


def resolve_tracking_uri(uri: str | None = None) -> str:
    """``uri``, else ``$MLFLOW_TRACKING_URI``, else ``sqlite:///<abs>/data/mlflow.db``."""
    chosen = uri or os.environ.get("MLFLOW_TRACKING_URI")
    if chosen:
        return chosen
    DEFAULT_DB.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{DEFAULT_DB.resolve()}"


def setup_tracking(uri: str | None = None) -> str:
    """Point MLflow (tracking and registry) at ``uri`` and make sure it answers.

    Returns:
        The experiment id of ``cart-relapse``.

    Raises:
        TrainingError: the tracking server does not answer (checked before any training work).
    """
    uri = resolve_tracking_uri(uri)
    if uri.startswith(("http://", "https://")):
        _probe_http(uri)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import mlflow

    logging.getLogger("mlflow").setLevel(logging.WARNING)  # after import: mlflow configures its logger then

    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        experiment = mlflow.get_experiment_by_name(EXPERIMENT)
        if experiment is None:
            experiment_id = mlflow.create_experiment(EXPERIMENT, artifact_location=artifact_location(uri))
        else:
            experiment_id = experiment.experiment_id
        mlflow.set_experiment(experiment_id=experiment_id)  # never MLflow's Default experiment (./mlruns)
        return experiment_id
    except Exception as exc:  # MLflow raises many types for an unusable store
        raise TrainingError(f"MLflow tracking store {uri} is not usable: {exc}") from exc


def artifact_location(uri: str) -> str | None:
    """Artifacts beside a sqlite database (``<db folder>/mlartifacts``); a server decides its own."""
    if uri.startswith(("http://", "https://", "databricks")):
        return None
    if uri.startswith("sqlite:///"):
        return (Path(uri.removeprefix("sqlite:///")).resolve().parent / "mlartifacts").as_uri()
    return DEFAULT_ARTIFACTS.resolve().as_uri()


def _probe_http(uri: str) -> None:
    import httpx

    url = uri.rstrip("/") + "/api/2.0/mlflow/experiments/search?max_results=1"
    try:
        httpx.get(url, timeout=5.0).raise_for_status()
    except httpx.HTTPError as exc:
        raise TrainingError(f"MLflow tracking server {uri} is unreachable ({exc}); nothing was trained or registered") from exc
