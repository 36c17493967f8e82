"""Numeric design matrix for the linear models.

Imputation with missing indicators, log of skewed measurements, scaling, one-hot categories (a scikit-learn
``ColumnTransformer`` on feature frames).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from features.catalogue import FeatureSpec

SKEWED_ABOVE = 100.0
"""Continuous features whose valid range exceeds this (LDH, ferritin, TMTV, ctDNA...) are log-transformed."""


def make_preprocessor(specs: Sequence[FeatureSpec]) -> ColumnTransformer:
    """The unfitted transformer taking a feature frame to a dense float matrix.

    Args:
        specs: the model's features.

    Returns:
        Median imputation with missing indicators and standard scaling for numbers (log1p first for
        skewed ones), constant imputation and one-hot encoding for categories (None and NaN alike are
        the level ``missing``).
    """
    skewed = [s.name for s in specs if s.type == "float" and s.range and s.range[1] > SKEWED_ABOVE]
    linear = [s.name for s in specs if s.type in ("float", "int", "bool") and s.name not in skewed]
    nominal = [s.name for s in specs if s.type == "category"]
    numeric = make_pipeline(
        SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True), StandardScaler()
    )
    logged = make_pipeline(FunctionTransformer(_log1p_nonneg, feature_names_out="one-to-one"), numeric)
    categorical = make_pipeline(
        FunctionTransformer(_missing_as_nan, feature_names_out="one-to-one"),
        SimpleImputer(strategy="constant", fill_value="missing", keep_empty_features=True),
        OneHotEncoder(handle_unknown="ignore", sparse_output=False),
    )
    return ColumnTransformer(
        [("log", logged, skewed), ("num", numeric, linear), ("cat", categorical, nominal)],
        remainder="drop",
        sparse_threshold=0.0,
    )


def _log1p_nonneg(X: np.ndarray) -> NDArray[np.float64]:
    return np.log1p(np.clip(np.asarray(X, dtype=np.float64), 0.0, None))


def _missing_as_nan(X: np.ndarray) -> NDArray[np.object_]:
    """Categories as objects with NaN for every missing value (the imputer does not see None as missing)."""
    values = np.asarray(X, dtype=object)
    return np.where(pd.isna(values), np.nan, values)
