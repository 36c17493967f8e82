"""models/pyfunc_entry.py: the models-from-code file MLflow executes to obtain the model object.

Loading a logged model end to end (which runs this file) is in test_packaging.py.
"""

from __future__ import annotations

import runpy

import mlflow.models.model

from models.packaged import PackagedRelapseModel
from models.packaging import ENTRY


def test_running_the_entry_sets_an_unloaded_packaged_model(monkeypatch):
    monkeypatch.setattr(mlflow.models.model, "__mlflow_model__", None, raising=False)
    runpy.run_path(str(ENTRY))
    model = mlflow.models.model.__mlflow_model__
    assert isinstance(model, PackagedRelapseModel) and model.predictor is None


def test_the_entry_imports_only_the_packaged_model():
    imports = [line for line in ENTRY.read_text().splitlines() if line.startswith(("import ", "from "))]
    assert imports == ["import mlflow.models", "from models.packaged import PackagedRelapseModel"]
