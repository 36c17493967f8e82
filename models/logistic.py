"""Regularised logistic regression: imputation with missing indicators, log of skewed labs, scaling."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from features.catalogue import FeatureSpec

SKEWED_ABOVE = 100.0  # continuous features whose valid range exceeds this are log-transformed


def make_logistic_pipeline(specs: Sequence[FeatureSpec], *, C: float = 0.1, random_state: int = 0) -> Pipeline:
    """Build the L2-penalised logistic pipeline for ``specs`` (takes a feature frame).

    Args:
        specs: the model's features.
        C: inverse regularisation strength.
        random_state: seed for the solver.

    Returns:
        An unfitted pipeline.
    """
    skewed = [s.name for s in specs if s.type == "float" and s.range and s.range[1] > SKEWED_ABOVE]
    linear = [s.name for s in specs if s.type in ("float", "int", "bool") and s.name not in skewed]
    nominal = [s.name for s in specs if s.type == "category"]
    numeric = make_pipeline(SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True), StandardScaler())
    logged = make_pipeline(FunctionTransformer(_log1p_nonneg, feature_names_out="one-to-one"), numeric)
    categorical = make_pipeline(
        SimpleImputer(strategy="constant", fill_value="missing", keep_empty_features=True),
        OneHotEncoder(handle_unknown="ignore"),
    )
    columns = ColumnTransformer(
        [("log", logged, skewed), ("num", numeric, linear), ("cat", categorical, nominal)], remainder="drop"
    )
    return Pipeline([("columns", columns), ("model", LogisticRegression(C=C, max_iter=2000, random_state=random_state))])


def _log1p_nonneg(X: np.ndarray) -> np.ndarray:
    return np.log1p(np.clip(np.asarray(X, dtype=float), 0, None))
