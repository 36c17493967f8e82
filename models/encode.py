"""Turn a feature frame into the numeric matrix the estimators see, by the catalogue's specs.

Numbers pass through as float; a category becomes the index of its level in the catalogue's level
list (so codes are stable across training, the pyfunc and the API); missing stays NaN.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from features.catalogue import FeatureSpec


class EncodingError(ValueError):
    """A value the model cannot take (names the column and the value)."""


def encode_features(frame: pd.DataFrame, specs: Sequence[FeatureSpec]) -> np.ndarray:
    """Encode ``frame`` into a float32 matrix with one column per spec, in spec order.

    Args:
        frame: feature frame; extra columns are ignored, absent feature columns are all-missing.
        specs: the model's feature specs (``Catalogue.feature_specs(landmark)``).

    Returns:
        Array of shape (len(frame), len(specs)), NaN for missing values.

    Raises:
        EncodingError: a category level not in the catalogue, or a non-numeric value.
    """
    out = np.full((len(frame), len(specs)), np.nan, dtype=np.float32)
    for j, spec in enumerate(specs):
        if spec.name in frame.columns:
            out[:, j] = _encode_column(frame[spec.name], spec)
    return out


def _encode_column(column: pd.Series, spec: FeatureSpec) -> np.ndarray:
    if spec.type == "category":
        codes = pd.Categorical(column, categories=list(spec.levels or ())).codes.astype(np.float32)
        unknown = (codes < 0) & column.notna().to_numpy()
        if unknown.any():
            bad = column[unknown].iloc[0]
            raise EncodingError(f"{spec.name}: unknown level {bad!r}; expected one of {list(spec.levels or ())}")
        codes[codes < 0] = np.nan
        return codes
    try:
        return pd.to_numeric(column, errors="raise").to_numpy(dtype=np.float32, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise EncodingError(f"{spec.name}: expected a number ({exc})") from None
