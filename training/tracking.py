"""MLflow set-up: an explicit tracking URI (never MLflow's own default) checked before training.

Tracking URIs: ``sqlite:///...`` (the demo), a database a team shares (``postgresql+psycopg://...``,
``mysql+...``, ``mssql+...``) or an ``http(s)://`` MLflow server. The artifact location of the
``cart-relapse`` experiment is fixed when the experiment is created: ``$CART_RELAPSE_ARTIFACT_ROOT``
when set (a folder every user can reach, ``s3://...``, ...); else beside a sqlite database; a shared
database requires it (MLflow alone would put artifacts in ``./mlruns`` of whoever trains first);
an MLflow server decides its own (``--artifacts-destination``).
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from .dataset import TrainingError

EXPERIMENT = "cart-relapse"
DEFAULT_DB = Path("data/mlflow.db")
DEFAULT_ARTIFACTS = Path("data/mlartifacts")
ARTIFACT_ROOT_ENV = "CART_RELAPSE_ARTIFACT_ROOT"
SHARED_DATABASES = ("postgresql", "mysql", "mssql")
_USERINFO = re.compile(r"//[^/@\s]+@")


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
    except Exception as exc:  # MLflow raises many types for an unusable store
        raise TrainingError(
            f"MLflow tracking store {redact_uri(uri)} is not usable: {redact_uri(str(exc))}"
        ) from exc
    location = None if experiment else artifact_location(uri)  # TrainingError before anything is created
    try:
        experiment_id = (
            experiment.experiment_id
            if experiment
            else mlflow.create_experiment(EXPERIMENT, artifact_location=location)
        )
        mlflow.set_experiment(experiment_id=experiment_id)  # never MLflow's Default experiment (./mlruns)
        return experiment_id
    except Exception as exc:
        raise TrainingError(
            f"MLflow tracking store {redact_uri(uri)} is not usable: {redact_uri(str(exc))}"
        ) from exc


def artifact_location(uri: str) -> str | None:
    """Where a new ``cart-relapse`` experiment keeps its artifacts (see the module docstring).

    Raises:
        TrainingError: ``uri`` is a shared database and ``CART_RELAPSE_ARTIFACT_ROOT`` is not set.
    """
    configured = os.environ.get(ARTIFACT_ROOT_ENV, "").strip()
    if configured:
        return (
            configured
            if re.match(r"^[a-z][a-z0-9+.-]*:", configured)
            else Path(configured).resolve().as_uri()
        )
    if uri.startswith(("http://", "https://", "databricks")):
        return None
    if uri.startswith("sqlite:///"):
        return (Path(uri.removeprefix("sqlite:///")).resolve().parent / "mlartifacts").as_uri()
    if uri.split(":", 1)[0].split("+", 1)[0] in SHARED_DATABASES:
        raise TrainingError(
            f"MLFLOW_TRACKING_URI is a shared database ({redact_uri(uri)}): set {ARTIFACT_ROOT_ENV} to a "
            "location every user and server can read (a shared folder, s3://bucket/prefix, ...) "
            "before the first training; nothing was trained or registered"
        )
    return DEFAULT_ARTIFACTS.resolve().as_uri()


def redact_uri(text: str) -> str:
    """``text`` with URI credentials hidden (``postgresql+psycopg://user:pw@host`` -> ``postgresql+psycopg://***@host``)."""
    return _USERINFO.sub("//***@", text)


def _probe_http(uri: str) -> None:
    import httpx

    url = uri.rstrip("/") + "/api/2.0/mlflow/experiments/search?max_results=1"
    try:
        httpx.get(url, timeout=5.0).raise_for_status()
    except httpx.HTTPError as exc:
        raise TrainingError(
            f"MLflow tracking server {uri} is unreachable ({exc}); nothing was trained or registered"
        ) from exc
