"""Published clinical scores as baselines: one-variable logistic fits on the training folds only."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression

# Score columns (features/derived.py) offered as baselines, with their published source.
CLINICAL_SCORES = {
    "ipi": "IPI (Shipp 1993)",
    "aaipi": "age-adjusted IPI (Hamlin 2003)",
    "car_hematotox": "CAR-HEMATOTOX (Rejeski 2021)",
    "m_easix": "m-EASIX (Pennisi 2021), log2",
}
LOG2_SCORES = frozenset({"m_easix", "easix"})


class ClinicalScoreClassifier(ClassifierMixin, BaseEstimator):
    """Turns one score column into a probability: median imputation, then logistic regression.

    Args:
        score: column name of the score in the feature frame.
    """

    def __init__(self, score: str = "ipi") -> None:
        self.score = score

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> ClinicalScoreClassifier:
        x = self._raw(X)
        if np.isnan(x).all():
            raise ValueError(f"score {self.score!r} is missing for every training patient")
        self.median_ = float(np.nanmedian(x))
        self.model_ = LogisticRegression(C=1e6, max_iter=1000).fit(self._impute(x)[:, None], np.asarray(y, dtype=int))
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return self.model_.predict_proba(self._impute(self._raw(X))[:, None])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    def _raw(self, X: pd.DataFrame) -> np.ndarray:
        if self.score not in X.columns:
            raise KeyError(f"score column {self.score!r} not in the feature frame")
        x = pd.to_numeric(X[self.score], errors="coerce").to_numpy(dtype=float)
        return np.log2(np.clip(x, 1e-3, None)) if self.score in LOG2_SCORES else x

    def _impute(self, x: np.ndarray) -> np.ndarray:
        return np.where(np.isnan(x), self.median_, x)
