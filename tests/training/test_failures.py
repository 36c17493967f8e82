"""`train` fails with a clear message and registers nothing when it cannot do its job."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cart_relapse.cli import app
from features.ingest import ingest_directory
from features.store import open_store
from synth import generate_registry, write_registry

runner = CliRunner()


def _said(result) -> str:
    return " ".join(result.output.split())  # rich wraps long lines


def _registered_models(uri: str) -> list[str]:
    import mlflow

    return [
        m.name for m in mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri).search_registered_models()
    ]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the block ends


def test_unreachable_tracking_server_fails_fast(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{_closed_port()}")
    start = time.monotonic()
    result = runner.invoke(app, ["train", "--store", str(tmp_path / "none.duckdb")])
    assert result.exit_code == 1
    assert "unreachable" in _said(result) and "nothing was trained or registered" in _said(result)
    assert time.monotonic() - start < 30


def test_empty_store_fails_and_registers_nothing(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    open_store(tmp_path / "empty.duckdb").close()
    result = runner.invoke(app, ["train", "--store", str(tmp_path / "empty.duckdb")])
    assert result.exit_code == 1
    assert "no eligible patients" in _said(result) and "ingest a registry first" in _said(result)
    assert _registered_models(uri) == []


def test_too_few_events_fails_and_registers_nothing(tmp_path: Path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    write_registry(generate_registry(n_patients=60, seed=1), tmp_path / "raw")
    ingest_directory(tmp_path / "raw", store=tmp_path / "store.duckdb")
    result = runner.invoke(app, ["train", "--store", str(tmp_path / "store.duckdb"), "--landmark", "day30"])
    assert result.exit_code == 1
    assert "at least 30 events and 30 event-free patients are needed" in _said(result)
    assert _registered_models(uri) == []


@pytest.mark.parametrize("landmark", ["week6", "preinfusion,day30"])
def test_unknown_landmark_is_refused(landmark, tmp_path):
    result = runner.invoke(app, ["train", "--store", str(tmp_path / "s.duckdb"), "--landmark", landmark])
    assert result.exit_code == 1 and "--landmark must be" in _said(result)
