"""Exact TreeSHAP explanations with XGBoost's own ``pred_contribs`` (the serving hot path).

``pred_contribs`` gives the same numbers as ``shap.TreeExplainer`` on the booster, on the model's
margin (for ``survival:cox`` the log relative hazard), without importing shap. By construction
``base_value + contributions.sum() == margin``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xgboost as xgb
from numpy.typing import NDArray


@dataclass(frozen=True)
class Explanation:
    """Per-row TreeSHAP decomposition of the model's margin."""

    base_value: np.ndarray  # (n,)
    contributions: np.ndarray  # (n, n_features)
    feature_names: tuple[str, ...]

    @property
    def margin(self) -> np.ndarray:
        """The explained quantity: ``base_value`` plus every contribution (float64)."""
        margin: NDArray[np.float64] = self.base_value + self.contributions.sum(axis=1)
        return margin


def explain(booster: xgb.Booster, X: np.ndarray, feature_names: tuple[str, ...]) -> Explanation:
    """Explain every row of ``X``.

    Args:
        booster: a trained booster.
        X: float32 matrix, NaN for missing (XGBoost's native missing-value branches); may have 0 rows.
        feature_names: column names, in ``X`` order.

    Returns:
        The explanation; contributions are float64. An empty ``X`` gives empty arrays.
    """
    if len(X) == 0:
        return Explanation(np.empty(0), np.empty((0, len(feature_names))), tuple(feature_names))
    matrix = xgb.DMatrix(X, missing=np.nan, feature_names=list(feature_names))
    contribs = booster.predict(matrix, pred_contribs=True, validate_features=False).astype(np.float64)
    return Explanation(
        base_value=contribs[:, -1], contributions=contribs[:, :-1], feature_names=tuple(feature_names)
    )
