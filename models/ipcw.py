"""The 12-month classifier weighted by inverse probability of censoring (IPCW): a reference only.

Vock et al. (J Biomed Inform 2016;61:119-131): patients censored before the horizon carry no label;
instead of dropping them (which biases risk upward) each labelled patient is weighted by
``1 / G(min(T, horizon)-)``, with ``G`` the Kaplan-Meier survival of the censoring time estimated on
the training patients. ``complete_case=True`` gives the retired behaviour (labelled patients only,
unweighted), kept to show its bias in the censoring tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from features.catalogue import FeatureSpec

from .baseline import survival_arrays
from .xgb_classifier import XGBRelapseClassifier


class IPCWHorizonClassifier(BaseEstimator):  # type: ignore[misc]  # scikit-learn ships no types: its bases are Any
    """XGBoost probability of the event by ``horizon_days``, learnt with IPCW weights.

    Args:
        specs: features.
        horizon_days: the fixed horizon.
        complete_case: drop censored-before-horizon patients without reweighting (biased; for comparison).
        n_estimators, max_depth, learning_rate, subsample, colsample_bytree, min_child_weight,
        reg_lambda, random_state: XGBoost hyperparameters.
    """

    def __init__(
        self,
        specs: Sequence[FeatureSpec] = (),
        *,
        horizon_days: int = 365,
        complete_case: bool = False,
        n_estimators: int = 250,
        max_depth: int = 3,
        learning_rate: float = 0.05,
        subsample: float = 0.85,
        colsample_bytree: float = 0.8,
        min_child_weight: float = 5.0,
        reg_lambda: float = 1.0,
        random_state: int = 0,
    ) -> None:
        self.specs = specs
        self.horizon_days = horizon_days
        self.complete_case = complete_case
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.min_child_weight = min_child_weight
        self.reg_lambda = reg_lambda
        self.random_state = random_state

    def fit(self, X: pd.DataFrame, y: Any) -> IPCWHorizonClassifier:
        """Label at the horizon, weight, and fit the classifier."""
        event, time = survival_arrays(y)
        label, weight = horizon_labels_and_weights(
            event, time, self.horizon_days, complete_case=self.complete_case
        )
        keep = weight > 0
        self.classifier_ = XGBRelapseClassifier(
            self.specs,
            n_estimators=self.n_estimators,
            max_depth=self.max_depth,
            learning_rate=self.learning_rate,
            subsample=self.subsample,
            colsample_bytree=self.colsample_bytree,
            min_child_weight=self.min_child_weight,
            reg_lambda=self.reg_lambda,
            random_state=self.random_state,
        ).fit(X[keep], label[keep], sample_weight=weight[keep])
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Probability of the event by the horizon (also the risk score)."""
        return self.classifier_.predict_proba(X)[:, 1]

    def predict_risk(self, X: pd.DataFrame, times: Sequence[float]) -> np.ndarray:
        """The probability at the horizon; NaN at every other time (a fixed-horizon model has no curve)."""
        out = np.full((len(X), len(times)), np.nan)
        columns = [j for j, t in enumerate(times) if t == self.horizon_days]
        if columns:
            out[:, columns] = self.predict(X)[:, None]
        return out


def horizon_labels_and_weights(
    event: np.ndarray, time: np.ndarray, horizon: float, *, complete_case: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """0/1 label at ``horizon`` and its IPCW weight (0 for patients censored before the horizon).

    Args:
        event: event indicators.
        time: event or censoring times.
        horizon: the fixed horizon.
        complete_case: weights of 1 for every labelled patient instead of IPCW.

    Returns:
        ``(label, weight)``.
    """
    from sksurv.nonparametric import CensoringDistributionEstimator

    label = (event & (time <= horizon)).astype(int)
    labelled = label.astype(bool) | (time > horizon)
    if complete_case:
        return label, labelled.astype(float)
    target = np.empty(len(event), dtype=[("event", bool), ("time", np.float64)])
    target["event"], target["time"] = event, time
    censoring = CensoringDistributionEstimator().fit(target)
    at = np.nextafter(np.minimum(time, horizon), -np.inf)  # G(min(T, horizon)-)
    survival = censoring.predict_proba(np.maximum(at, 0.0))
    weight = np.where(labelled, 1.0 / np.clip(survival, 1e-3, None), 0.0)
    return label, weight
