"""Penalised linear Cox model on the preprocessed feature frame.

scikit-survival's elastic-net ``CoxnetSurvivalAnalysis``: the transparent comparator of the gradient-boosted
Cox model.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from features.catalogue import FeatureSpec

from .baseline import survival_arrays
from .preprocess import make_preprocessor
from .step_risk import risk_from_step_survival

WARM_START_FACTORS = (64.0, 16.0, 4.0, 2.0, 1.0)


class LinearCoxSurvival(BaseEstimator):  # type: ignore[misc]  # scikit-learn ships no types: its bases are Any
    """Elastic-net Cox on imputed, log-transformed and scaled features with missing indicators.

    Args:
        specs: the model's features.
        alpha: penalty strength (tuned inside the training folds).
        l1_ratio: elastic-net mixing (1 = lasso, close to 0 = ridge).
    """

    def __init__(
        self, specs: Sequence[FeatureSpec] = (), *, alpha: float = 0.02, l1_ratio: float = 0.5
    ) -> None:
        self.specs = specs
        self.alpha = alpha
        self.l1_ratio = l1_ratio

    def fit(self, X: pd.DataFrame, y: Any) -> LinearCoxSurvival:
        """Fit the preprocessing and the penalised Cox model (with its Breslow baseline)."""
        from sksurv.linear_model import CoxnetSurvivalAnalysis

        event, time = survival_arrays(y)
        self.preprocessor_ = make_preprocessor(self.specs).fit(X)
        # Coordinate descent along a short path of decreasing penalties (warm starts) down to ``alpha``: a
        # single small penalty fitted from zero can diverge on small folds.
        path = self.alpha * np.asarray(WARM_START_FACTORS)
        model = CoxnetSurvivalAnalysis(l1_ratio=self.l1_ratio, alphas=path, fit_baseline_model=True)
        self.model_ = model.fit(self.preprocessor_.transform(X), _structured(event, time))
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Linear predictor (log relative hazard) of each row."""
        return np.asarray(
            self.model_.predict(self.preprocessor_.transform(X), alpha=self.alpha), dtype=np.float64
        )

    def predict_risk(self, X: pd.DataFrame, times: Sequence[float]) -> np.ndarray:
        """Absolute risk by each of ``times`` (Breslow baseline of the fitted model)."""
        survival = self.model_.predict_survival_function(
            self.preprocessor_.transform(X), alpha=self.alpha, return_array=True
        )
        return risk_from_step_survival(survival, self.model_.unique_times_, times)

    def score(self, X: pd.DataFrame, y: Any) -> float:
        """Harrell's concordance index (scikit-survival), the default search criterion."""
        from sksurv.metrics import concordance_index_censored

        event, time = survival_arrays(y)
        return float(concordance_index_censored(event, time, self.predict(X))[0])


def _structured(event: np.ndarray, time: np.ndarray) -> np.ndarray:
    out = np.empty(len(event), dtype=[("event", bool), ("time", np.float64)])
    out["event"], out["time"] = event, time
    return out
