"""Fixtures for the API and batch-scoring tests: small models fitted on factory frames (no training
pipeline), a TestClient factory, and (integration) a temporary MLflow registry holding both."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

with warnings.catch_warnings():  # starlette's notice about httpx vs httpx2, raised on import
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from features.catalogue import load_catalogue
from models.predictor import HORIZONS_DAYS, ModelMetadata, RelapsePredictor, RiskThresholds
from models.xgb_survival import XGBCoxSurvival
from serving.app import create_app
from serving.loader import Loader, ModelSlot
from serving.model import ServingModel
from serving.settings import Settings
from synth.frames import random_survival_frame

LANDMARKS = ("preinfusion", "day30")
TOKEN = "test-token-0123456789abcdef"


def make_predictor(landmark: str, *, n: int = 400, seed: int = 1, trees: int = 40) -> RelapsePredictor:
    """A small boosted Cox model on a factory frame, wrapped like training wraps its winner."""
    frame, targets = random_survival_frame(n, landmark, seed=seed)
    specs = load_catalogue().feature_specs(landmark)
    model = XGBCoxSurvival(specs, n_estimators=trees, max_depth=3, recalibration_folds=2).fit(frame, targets)
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
        metrics={"cv_uno_c_365": 0.71, "cv_ibs": 0.2},
        training_fingerprint="test",
        trained_at="2026-01-01T00:00:00",
    )
    return RelapsePredictor(model.booster_, metadata)


@pytest.fixture(scope="session")
def predictors() -> dict[str, RelapsePredictor]:
    return {lm: make_predictor(lm) for lm in LANDMARKS}


@pytest.fixture(scope="session")
def serving_models(predictors) -> dict[str, ModelSlot]:
    return {
        lm: ServingModel.build(p, name=f"cart-relapse-{lm}", version="7", alias="champion")
        for lm, p in predictors.items()
    }


def settings(**overrides: Any) -> Settings:
    """Settings independent of the environment the tests run in."""
    values: dict[str, Any] = {"api_token": None, "mlflow_tracking_uri": "sqlite:///unused.db"} | overrides
    return Settings(**values)


@pytest.fixture
def make_client(serving_models) -> Iterator[Callable[..., TestClient]]:
    """``make_client(models=..., loader=..., client_host=..., **settings)``: a started TestClient (closed
    after the test). Reloads use ``loader``, by default one returning the same models (no MLflow);
    ``client_host`` is the client address the app sees (TestClient's default is not loopback)."""
    clients: list[TestClient] = []

    def factory(
        models: Mapping[str, ModelSlot] | None = None,
        *,
        loader: Loader | None = None,
        client_host: str = "testclient",
        **overrides: Any,
    ) -> TestClient:
        slots = serving_models if models is None else models
        app = create_app(settings(**overrides), models=slots, loader=loader or (lambda _settings: slots))
        client = TestClient(app, raise_server_exceptions=False, client=(client_host, 50000))
        client.__enter__()
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client) -> TestClient:
    return make_client()


def request_features(row: pd.Series, landmark: str, *, derived: bool = True) -> dict[str, Any]:
    """A frame row as the API's ``features`` object (NaN -> null); without derived features if asked."""
    out: dict[str, Any] = {}
    for spec in load_catalogue().feature_specs(landmark):
        if spec.source == "derived" and not derived:
            continue
        value = row[spec.name]
        if value is None or (isinstance(value, float) and math.isnan(value)):
            out[spec.name] = None
        elif spec.type == "category":
            out[spec.name] = str(value)
        elif spec.type == "bool":
            out[spec.name] = bool(value)
        elif spec.type == "int":
            out[spec.name] = int(value)
        else:
            out[spec.name] = float(value)
    return out


def contributions_in_model_order(body: dict[str, Any], predictor: RelapsePredictor) -> np.ndarray:
    by_name = {c["feature"]: c["contribution"] for c in body["explanation"]["contributions"]}
    return np.array([by_name[name] for name in predictor.feature_names])


@pytest.fixture(scope="session")
def mlflow_registry(tmp_path_factory, predictors) -> dict[str, Any]:
    """A temporary sqlite MLflow registry with both landmarks registered and aliased ``champion``."""
    root: Path = tmp_path_factory.mktemp("mlflow")
    uri = create_mlflow_registry(root)
    versions = {
        lm: register_version(uri, root, predictor, f"cart-relapse-{lm}")
        for lm, predictor in predictors.items()
    }
    return {"uri": uri, "versions": versions, "root": root}


def create_mlflow_registry(root: Path) -> str:
    """A sqlite tracking/registry database under ``root`` (made the process's MLflow URI); returns its URI."""
    import mlflow

    uri = f"sqlite:///{root / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    mlflow.create_experiment("serving-tests", artifact_location=(root / "artifacts").as_uri())
    return uri


def register_version(
    uri: str, root: Path, predictor: RelapsePredictor, name: str, *, alias: str | None = "champion"
) -> str:
    """Log ``predictor`` as a new version of ``name`` in the registry at ``uri``; point ``alias`` at it."""
    import mlflow
    from mlflow import MlflowClient

    from models.packaging import log_packaged_model

    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    experiment = mlflow.get_experiment_by_name("serving-tests").experiment_id
    with mlflow.start_run(experiment_id=experiment):
        directory = root / f"model-{name}-{len(list(root.glob(f'model-{name}-*')))}"
        version = str(log_packaged_model(predictor, directory, name).registered_model_version)
    if alias is not None:
        MlflowClient().set_registered_model_alias(name, alias, version)
    return version
