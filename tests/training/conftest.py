"""A small registry trained once per session into a temporary MLflow store."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from features.ingest import ingest_directory
from synth import generate_registry, write_registry


@pytest.fixture(scope="session")
def small_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("registry")
    write_registry(generate_registry(n_patients=1500, seed=3), root / "raw")
    ingest_directory(root / "raw", store=root / "store.duckdb")
    return root / "store.duckdb"


@pytest.fixture(scope="session")
def trained(small_store: Path, tmp_path_factory: pytest.TempPathFactory):
    """Both landmarks trained and registered; yields (store, tracking_uri, outcomes)."""
    from training.job import run_training

    uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"
    mp = pytest.MonkeyPatch()
    mp.setenv("MLFLOW_TRACKING_URI", uri)
    outcomes = run_training(small_store, ["preinfusion", "day30"], n_configs=2, console=Console(quiet=True))
    yield small_store, uri, outcomes
    mp.undo()


@pytest.fixture(scope="session")
def tiny_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 600-patient synthetic registry ingested into a store (about 530 eligible, 310 events)."""
    root = tmp_path_factory.mktemp("tiny-registry")
    write_registry(generate_registry(n_patients=600, seed=3), root / "raw")
    ingest_directory(root / "raw", store=root / "store.duckdb")
    return root / "store.duckdb"


@pytest.fixture(scope="session")
def tiny_result(tiny_store: Path):
    """The preinfusion landmark trained on ``tiny_store`` (one configuration, one worker: about 35 s)."""
    from training.dataset import load_training_data
    from training.fit import train_landmark

    return train_landmark(load_training_data(tiny_store, "preinfusion"), n_configs=1, n_jobs=1)
