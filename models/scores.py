"""Published clinical scores as baselines.

Each score is the single covariate of a Cox model, fitted on the training folds only (so it predicts an
absolute risk curve like every candidate).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from .baseline import survival_arrays
from .step_risk import risk_from_step_survival

# Score columns (features/derived.py) offered as baselines, with their published source.
CLINICAL_SCORES = {
    "ipi": "IPI (Shipp 1993)",
    "aaipi": "age-adjusted IPI (Hamlin 2003)",
    "car_hematotox": "CAR-HEMATOTOX (Rejeski 2021)",
    "m_easix": "m-EASIX (Pennisi 2021), log2",
}
# Day-30 response assessment offered as a baseline of the day-30 model (Galtier 2023, Kuhnl 2022).
RESPONSE_SCORES = {"deauville_day30": "day-30 PET Deauville score alone"}
LOG2_SCORES = frozenset({"m_easix", "easix"})
STABILISING_RIDGE = 1e-3
"""A negligible ridge penalty on the one-covariate Cox fit: keeps Newton's method finite when the
covariate nearly separates early from late events in a small fold (scikit-survival otherwise stops)."""


class ScoreUnavailableError(ValueError):
    """The score cannot be computed for any training patient (e.g. a registry without its inputs)."""


class ClinicalScoreCox(BaseEstimator):  # type: ignore[misc]  # scikit-learn ships no types: its bases are Any
    """One score column -> median imputation -> one-covariate Cox model (scikit-survival).

    Args:
        column: column name of the score in the feature frame.
    """

    def __init__(self, column: str = "ipi") -> None:
        self.column = column

    def fit(self, X: pd.DataFrame, y: Any) -> ClinicalScoreCox:
        """Fit the Cox model on the imputed score.

        Raises:
            ScoreUnavailableError: the score is missing for every training patient.
        """
        from sksurv.linear_model import CoxPHSurvivalAnalysis

        x = self._raw(X)
        if np.isnan(x).all():
            raise ScoreUnavailableError(f"score {self.column!r} is missing for every training patient")
        event, time = survival_arrays(y)
        self.median_ = float(np.nanmedian(x))
        target = np.empty(len(event), dtype=[("event", bool), ("time", np.float64)])
        target["event"], target["time"] = event, time
        self.model_ = CoxPHSurvivalAnalysis(alpha=STABILISING_RIDGE, ties="breslow").fit(
            self._design(x), target
        )
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Linear predictor: the score times its log hazard ratio."""
        return np.asarray(self.model_.predict(self._design(self._raw(X))), dtype=np.float64)

    def predict_risk(self, X: pd.DataFrame, times: Sequence[float]) -> np.ndarray:
        """Absolute risk by each of ``times``."""
        survival = self.model_.predict_survival_function(self._design(self._raw(X)), return_array=True)
        return risk_from_step_survival(survival, self.model_.unique_times_, times)

    def _raw(self, X: pd.DataFrame) -> np.ndarray:
        if self.column not in X.columns:
            raise KeyError(f"score column {self.column!r} not in the feature frame")
        x = pd.to_numeric(X[self.column], errors="coerce").to_numpy(dtype=float)
        return np.log2(np.clip(x, 1e-3, None)) if self.column in LOG2_SCORES else x

    def _design(self, x: np.ndarray) -> np.ndarray:
        return np.where(np.isnan(x), self.median_, x)[:, None]
