"""The estimators and the packaged model (an MLflow pyfunc) that scores landmark feature frames."""
