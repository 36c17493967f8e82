"""Session fixtures shared across test folders: a registry trained through the command line."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REGISTRY_PATIENTS = 1500
FRESH_PATIENTS = 3000


@dataclass(frozen=True)
class CliRegistry:
    """A synthetic registry ingested, featurised and trained (preinfusion) with the ``cart-relapse`` CLI."""

    root: Path
    store: Path
    tracking_uri: str
    features: Path  # the preinfusion feature frame of the training store

    def env(self, **extra: str) -> dict[str, str]:
        return {**os.environ, "MLFLOW_TRACKING_URI": self.tracking_uri, **extra}


def run_cli(*args: str, env: dict[str, str], timeout: float = 900) -> subprocess.CompletedProcess:
    """``cart-relapse ARGS`` in a fresh process; fails the test with its output on a non-zero exit."""
    result = subprocess.run(
        [sys.executable, "-m", "cart_relapse.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    if result.returncode != 0:
        pytest.fail(
            f"cart-relapse {' '.join(args)} exited "
            f"{result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return result


@pytest.fixture(scope="session")
def cli_registry(tmp_path_factory: pytest.TempPathFactory) -> CliRegistry:
    """synth (1,500 patients) -> ingest -> features -> train preinfusion (one configuration) on sqlite."""
    root = tmp_path_factory.mktemp("cli-registry")
    registry = CliRegistry(
        root, root / "store.duckdb", f"sqlite:///{root / 'mlflow.db'}", root / "features_preinfusion.parquet"
    )
    env = registry.env(CART_RELAPSE_ARTIFACT_ROOT="")
    run_cli("synth", "--patients", str(REGISTRY_PATIENTS), "--seed", "3", "--out", str(root / "raw"), env=env)
    run_cli("ingest", str(root / "raw"), "--store", str(registry.store), env=env)
    run_cli(
        "features",
        "--store",
        str(registry.store),
        "--landmark",
        "preinfusion",
        "--out",
        str(registry.features),
        env=env,
    )
    run_cli("train", "--store", str(registry.store), "--landmark", "preinfusion", "--n-configs", "1", env=env)
    return registry


@pytest.fixture(scope="session")
def fresh_cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The preinfusion feature frame of new synthetic patients (another seed, same centres and population)."""
    root = tmp_path_factory.mktemp("fresh-cohort")
    env = {**os.environ}
    run_cli("synth", "--patients", str(FRESH_PATIENTS), "--seed", "11", "--out", str(root / "raw"), env=env)
    run_cli("ingest", str(root / "raw"), "--store", str(root / "store.duckdb"), env=env)
    run_cli(
        "features",
        "--store",
        str(root / "store.duckdb"),
        "--landmark",
        "preinfusion",
        "--out",
        str(root / "features.parquet"),
        env=env,
    )
    return root / "features.parquet"
