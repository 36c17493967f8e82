"""training/tracking.py: an explicit tracking URI, checked before any training work."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from training.dataset import TrainingError
from training.tracking import (
    ARTIFACT_ROOT_ENV,
    DEFAULT_DB,
    EXPERIMENT,
    artifact_location,
    resolve_tracking_uri,
    setup_tracking,
)


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """MLflow's process-wide URIs and active experiment restored after the test; cwd in ``tmp_path``."""
    import mlflow.tracking._model_registry.utils as registry_utils
    import mlflow.tracking._tracking_service.utils as tracking_utils
    import mlflow.tracking.fluent as fluent

    monkeypatch.setattr(tracking_utils, "_tracking_uri", tracking_utils._tracking_uri)
    monkeypatch.setattr(registry_utils, "_registry_uri", registry_utils._registry_uri)
    monkeypatch.setattr(fluent, "_active_experiment_id", fluent._active_experiment_id)
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLFLOW_EXPERIMENT_ID", ARTIFACT_ROOT_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_uri_argument_wins_over_the_environment_which_wins_over_the_default(isolated, monkeypatch):
    assert resolve_tracking_uri() == f"sqlite:///{(isolated / DEFAULT_DB).resolve()}"
    assert (isolated / DEFAULT_DB).parent.is_dir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////from/env.db")
    assert resolve_tracking_uri() == "sqlite:////from/env.db"
    assert resolve_tracking_uri("http://given:5000") == "http://given:5000"


def test_sqlite_creates_the_experiment_once_with_artifacts_beside_the_database(isolated):
    import mlflow

    uri = f"sqlite:///{isolated / 'db' / 'mlflow.db'}"
    (isolated / "db").mkdir()
    experiment_id = setup_tracking(uri)
    assert mlflow.get_tracking_uri() == uri and mlflow.get_registry_uri() == uri
    experiment = mlflow.get_experiment(experiment_id)
    assert experiment.name == EXPERIMENT
    assert experiment.artifact_location == (isolated / "db" / "mlartifacts").as_uri()
    assert setup_tracking(uri) == experiment_id  # found again, not created twice
    assert not (isolated / "mlruns").exists()


def test_the_artifact_root_setting_is_used_and_made_absolute(isolated, monkeypatch):
    monkeypatch.setenv(ARTIFACT_ROOT_ENV, "shared/artifacts")
    assert artifact_location("sqlite:////x/mlflow.db") == (isolated / "shared" / "artifacts").as_uri()
    monkeypatch.setenv(ARTIFACT_ROOT_ENV, "  ")
    assert artifact_location("sqlite:////x/mlflow.db") == Path("/x/mlartifacts").as_uri()
    assert artifact_location("databricks") is None


def test_an_unreachable_server_fails_fast_before_mlflow_is_touched(isolated):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    start = time.perf_counter()
    with pytest.raises(TrainingError, match=rf"127.0.0.1:{port} is unreachable .*nothing was trained"):
        setup_tracking(f"http://127.0.0.1:{port}")
    assert time.perf_counter() - start < 10


def test_a_file_that_is_not_a_database_is_a_training_error(isolated):
    (isolated / "notes.db").write_text("not a database\n" * 100)
    with pytest.raises(TrainingError, match=r"MLflow tracking store sqlite:///.*notes.db is not usable"):
        setup_tracking(f"sqlite:///{isolated / 'notes.db'}")
