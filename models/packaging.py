"""Log a :class:`~models.predictor.RelapsePredictor` as an MLflow pyfunc model (models-from-code).

The logged model carries only what predicting needs: the booster, its metadata, and a copy of the
modules the pyfunc imports (``RUNTIME_MODULES``), so a registered version keeps working as the repo
moves on, without the feature store, the validators or the synthetic generator.
"""

from __future__ import annotations

import shutil
import tempfile
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import pandas as pd

from .predictor import SYNTHETIC_NOTICE, RelapsePredictor

REPO = Path(__file__).resolve().parent.parent
ENTRY = Path(__file__).with_name("pyfunc_entry.py")
RUNTIME_MODULES = {
    "models": ("__init__.py", "packaged.py", "predictor.py", "baseline.py", "encode.py", "explain.py"),
    "features": ("__init__.py", "catalogue.py", "catalogue.yaml"),
}
RUNTIME_PACKAGES = ("mlflow", "numpy", "pandas", "pydantic", "pyyaml", "xgboost-cpu")


def log_packaged_model(
    predictor: RelapsePredictor,
    directory: Path,
    name: str,
    *,
    extra_artifacts: dict[str, str] | None = None,
) -> Any:
    """Log ``predictor`` in the active MLflow run and register it as ``name``.

    Args:
        predictor: the trained model.
        directory: a scratch folder for the booster and metadata files.
        name: the registered model name.
        extra_artifacts: more files to carry inside the model (artifact name -> path).

    Returns:
        MLflow's ``ModelInfo`` (``registered_model_version``, ``model_uri``).
    """
    import mlflow

    booster_path, metadata_path = predictor.save(directory)
    with tempfile.TemporaryDirectory() as bundle:
        code_paths = runtime_code(Path(bundle))
        return mlflow.pyfunc.log_model(
            name="model",
            python_model=str(ENTRY),
            artifacts={
                "booster": str(booster_path),
                "metadata": str(metadata_path),
                **(extra_artifacts or {}),
            },
            code_paths=[str(p) for p in code_paths],
            signature=model_signature(predictor),
            input_example=input_example(predictor),
            pip_requirements=[f"{p}=={package_version(p)}" for p in RUNTIME_PACKAGES],
            registered_model_name=name,
            metadata={
                "landmark": predictor.metadata.landmark,
                "model_format": predictor.metadata.format,
                "synthetic_data": True,
                "notice": SYNTHETIC_NOTICE,
            },
        )


def runtime_code(destination: Path) -> list[Path]:
    """Copy the runtime modules into ``destination`` as packages; return the package folders."""
    folders = []
    for package, files in RUNTIME_MODULES.items():
        folder = destination / package
        folder.mkdir(parents=True)
        for file in files:
            shutil.copy2(REPO / package / file, folder / file)
        folders.append(folder)
    return folders


def model_signature(predictor: RelapsePredictor) -> Any:
    """Input: every feature optional (missing allowed); categories as strings, the rest as double.

    Output: the risk columns, ``relapse_probability``, ``risk_group``, ``margin``, ``base_value``,
    contributions.
    """
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    inputs = Schema(
        [
            ColSpec("string" if s.type == "category" else "double", s.name, required=False)
            for s in predictor.metadata.features
        ]
    )
    outputs = Schema(
        [ColSpec("string" if c == "risk_group" else "double", c) for c in predictor.output_columns]
    )
    return ModelSignature(inputs=inputs, outputs=outputs)


def input_example(predictor: RelapsePredictor) -> pd.DataFrame:
    """One plausible row: the first level of each category, the middle of each training range."""
    row: dict[str, Any] = {}
    for spec in predictor.metadata.features:
        if spec.type == "category":
            row[spec.name] = (spec.levels or ("",))[0]
        else:
            low, high = predictor.metadata.training_ranges.get(spec.name, (0.0, 1.0))
            row[spec.name] = float((low + high) / 2) if spec.type == "float" else float(round(low))
    return pd.DataFrame([row])
