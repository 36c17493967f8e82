"""Models-from-code entry point: MLflow executes this file to obtain the model object."""

import mlflow.models

from models.packaged import PackagedRelapseModel

mlflow.models.set_model(PackagedRelapseModel())
