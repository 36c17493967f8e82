"""Team tracking on PostgreSQL: a throwaway server (tests/postgres.py), then train, register, serve, score
and drift against it with MLFLOW_TRACKING_URI=postgresql+psycopg://...; and the documented `mlflow server`
command on the same database."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pandas as pd
import pytest

from cart_relapse.process import api_server, free_port, request_features, venv_env, wait_ready
from tests.conftest import run_cli
from tests.postgres import postgres_server
from training.dataset import TrainingError
from training.tracking import ARTIFACT_ROOT_ENV, artifact_location, redact_uri

LANDMARKS = ("preinfusion", "day30")


def test_artifact_location_rules(tmp_path, monkeypatch):
    monkeypatch.delenv(ARTIFACT_ROOT_ENV, raising=False)
    assert artifact_location(f"sqlite:///{tmp_path}/mlflow.db") == (tmp_path / "mlartifacts").as_uri()
    assert artifact_location("http://mlflow.internal:5000") is None
    with pytest.raises(TrainingError, match=ARTIFACT_ROOT_ENV) as error:
        artifact_location("postgresql+psycopg://team:s3cret@db.internal/mlflow")
    assert "s3cret" not in str(error.value) and "***@db.internal" in str(error.value)
    monkeypatch.setenv(ARTIFACT_ROOT_ENV, str(tmp_path / "shared"))
    assert artifact_location("postgresql+psycopg://db/mlflow") == (tmp_path / "shared").as_uri()
    monkeypatch.setenv(ARTIFACT_ROOT_ENV, "s3://team-bucket/cart-relapse")
    assert artifact_location("postgresql+psycopg://db/mlflow") == "s3://team-bucket/cart-relapse"


def test_redact_uri():
    assert (
        redact_uri("mlflow ui --backend-store-uri postgresql+psycopg://u:p@h:5432/db")
        == "mlflow ui --backend-store-uri postgresql+psycopg://***@h:5432/db"
    )
    assert redact_uri("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"


@pytest.fixture(scope="module")
def team(cli_registry, tmp_path_factory):
    """A PostgreSQL server (stopped at the end) and the environment a team member sets."""
    artifacts = tmp_path_factory.mktemp("team-artifacts")
    with postgres_server() as uri:
        yield (
            uri,
            artifacts,
            cli_registry.env(MLFLOW_TRACKING_URI=uri, CART_RELAPSE_ARTIFACT_ROOT=str(artifacts)),
        )


@pytest.fixture(scope="module")
def trained_on_postgres(team, cli_registry):
    """Both landmarks trained and registered through `cart-relapse train` on the PostgreSQL store."""
    _, _, env = team
    result = run_cli(
        "train", "--store", str(cli_registry.store), "--landmark", "all", "--n-configs", "1", env=env
    )
    assert "registered cart-relapse-day30 v1" in " ".join(result.stdout.split())
    return team


@pytest.mark.integration
@pytest.mark.slow
def test_shared_database_without_artifact_root_refuses_before_training(team, cli_registry):
    uri, _, env = team
    other = _create_database(uri, "refused")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cart_relapse.cli",
            "train",
            "--store",
            str(cli_registry.store),
            "--landmark",
            "preinfusion",
        ],
        capture_output=True,
        text=True,
        env={**env, "MLFLOW_TRACKING_URI": other, ARTIFACT_ROOT_ENV: ""},
    )
    assert result.returncode == 1 and ARTIFACT_ROOT_ENV in " ".join(result.stderr.split())
    assert (
        _registered_versions(other) == []
        and _count(other, "SELECT count(*) FROM experiments WHERE name = 'cart-relapse'") == 0
    )


@pytest.mark.integration
@pytest.mark.slow
def test_versions_and_artifacts_are_in_the_team_stores(trained_on_postgres):
    uri, artifacts, _ = trained_on_postgres
    assert _registered_versions(uri) == [("cart-relapse-day30", 1), ("cart-relapse-preinfusion", 1)]
    assert _count(uri, "SELECT count(*) FROM registered_model_aliases WHERE alias = 'champion'") == 2
    assert (
        len(list(artifacts.rglob("MLmodel"))) == 2 and len(list(artifacts.rglob("drift_profile.json"))) == 2
    )


@pytest.mark.integration
@pytest.mark.slow
def test_serve_predicts_with_models_from_postgres(trained_on_postgres, cli_registry):
    uri, _, _ = trained_on_postgres
    frame = pd.read_parquet(cli_registry.features)
    names = [c for c in frame.columns if c not in ("patient_id", "center", "infusion_date", "landmark_date")]
    with api_server(env={"MLFLOW_TRACKING_URI": uri}, timeout=240) as base:
        response = httpx.post(
            f"{base}/v1/predict/preinfusion",
            json={"features": request_features(frame.iloc[0], names)},
            timeout=60,
        )
    assert response.status_code == 200, response.text
    assert 0 < response.json()["relapse_probability"] < 1 and response.json()["model"]["version"] == "1"


@pytest.mark.integration
@pytest.mark.slow
def test_score_and_drift_on_postgres(trained_on_postgres, cli_registry, tmp_path):
    uri, _, env = trained_on_postgres
    scores, report = tmp_path / "scores.parquet", tmp_path / "drift"
    run_cli(
        "score",
        "--store",
        str(cli_registry.store),
        "--landmark",
        "preinfusion",
        "--out",
        str(scores),
        env=env,
    )
    assert len(pd.read_parquet(scores)) == len(pd.read_parquet(cli_registry.features)) > 0
    run_cli("drift", "--input", str(cli_registry.features), "--out", str(report), "--log-to-mlflow", env=env)
    assert _count(uri, "SELECT count(*) FROM runs WHERE name = 'drift-preinfusion-v1'") == 1


@pytest.mark.integration
@pytest.mark.slow
def test_the_documented_mlflow_server_serves_the_same_registry(trained_on_postgres, cli_registry, tmp_path):
    uri, _, env = trained_on_postgres
    port = free_port()
    server = subprocess.Popen(
        [
            os.path.join(os.path.dirname(sys.executable), "mlflow"),
            "server",
            "--backend-store-uri",
            uri,
            "--artifacts-destination",
            str(tmp_path / "served-artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        env=venv_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}/health", server, timeout=180)
        found = httpx.get(
            f"http://127.0.0.1:{port}/api/2.0/mlflow/registered-models/search", timeout=30
        ).json()
        assert {m["name"] for m in found["registered_models"]} == {f"cart-relapse-{lm}" for lm in LANDMARKS}
        scores = tmp_path / "scores.parquet"
        run_cli(
            "score",
            "--input",
            str(cli_registry.features),
            "--out",
            str(scores),
            env={**env, "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{port}"},
        )
        assert len(pd.read_parquet(scores)) == len(pd.read_parquet(cli_registry.features))
    finally:
        server.terminate()
        server.wait(30)


def _create_database(uri: str, name: str) -> str:
    import psycopg

    with psycopg.connect(_libpq(uri), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return uri.rsplit("/", 1)[0] + f"/{name}"


def _registered_versions(uri: str) -> list[tuple[str, int]]:
    import psycopg

    with psycopg.connect(_libpq(uri)) as connection:
        exists = connection.execute("SELECT to_regclass('model_versions')").fetchone()[0]
        if exists is None:
            return []
        return [
            tuple(row)
            for row in connection.execute("SELECT name, version FROM model_versions ORDER BY name, version")
        ]


def _count(uri: str, query: str) -> int:
    import psycopg

    with psycopg.connect(_libpq(uri)) as connection:
        return int(connection.execute(query).fetchone()[0])


def _libpq(uri: str) -> str:
    return uri.replace("postgresql+psycopg://", "postgresql://")
