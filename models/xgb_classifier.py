"""Gradient-boosted binary classifier on catalogue features.

XGBoost's native missing-value handling; the base of the 12-month IPCW reference classifier
(``models/ipcw.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

from features.catalogue import FeatureSpec

from .boosting import BoosterParams, booster_params, predict_margin, train_booster
from .encode import encode_features


class XGBRelapseClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]  # scikit-learn ships no types: its bases are Any
    """sklearn-style wrapper: ``fit(frame, y)`` / ``predict_proba(frame)`` on feature frames.

    Args:
        specs: feature specs to use, in order (a subset gives a modality ablation).
        n_estimators, max_depth, learning_rate, subsample, colsample_bytree, min_child_weight,
        reg_lambda: XGBoost hyperparameters.
        n_jobs: threads for training (1 is fastest for registry-sized data; parallelise folds instead).
        random_state: seed.
    """

    def __init__(
        self,
        specs: Sequence[FeatureSpec] = (),
        *,
        n_estimators: int = 300,
        max_depth: int = 3,
        learning_rate: float = 0.05,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        min_child_weight: float = 5.0,
        reg_lambda: float = 1.0,
        n_jobs: int = 1,
        random_state: int = 0,
    ) -> None:
        self.specs = specs
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.min_child_weight = min_child_weight
        self.reg_lambda = reg_lambda
        self.n_jobs = n_jobs
        self.random_state = random_state

    def fit(
        self, X: pd.DataFrame, y: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> XGBRelapseClassifier:
        """Fit on 0/1 labels, optionally weighted (inverse probability of censoring weights)."""
        if not self.specs:
            raise ValueError("XGBRelapseClassifier needs at least one feature spec")
        y = np.asarray(y, dtype=float)
        if set(np.unique(y)) - {0.0, 1.0}:
            raise ValueError("labels must be 0/1 (censored patients are excluded before fitting)")
        self.feature_names_ = tuple(s.name for s in self.specs)
        self.booster_ = train_booster(
            self.booster_params(),
            encode_features(X, self.specs),
            label=y,
            weight=sample_weight,
            rounds=self.n_estimators,
            feature_names=self.feature_names_,
        )
        self.classes_ = np.array([0, 1])
        return self

    def booster_params(self) -> BoosterParams:
        """The XGBoost training parameters built from the hyperparameters."""
        return booster_params(self, objective="binary:logistic", eval_metric="logloss")

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Class probabilities: column 0 no event, column 1 the event, one row per row of ``X``."""
        margin = predict_margin(self.booster_, encode_features(X, self.specs), nthread=self.n_jobs)
        p = 1.0 / (1.0 + np.exp(-margin))
        return np.column_stack([1 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """The predicted class (1 when the event's probability is at least 0.5)."""
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)
