"""Labels, candidate fitting, evaluation, the model card and MLflow registration, per landmark."""
