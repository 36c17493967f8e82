"""XGBoost training and prediction with the per-call overheads removed.

``xgb.train`` checks the training matrix's feature names and types on every boosting round, which
costs more than the round itself at registry size (about half of all training time, measured with
cProfile). The booster is therefore trained on an unnamed matrix and named afterwards; matrices are
built with the caller's thread count (the default, every core, makes OpenMP teams wait for busy
cores when folds already run in parallel).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import xgboost as xgb

BoosterParams = dict[str, str | float]
"""XGBoost training parameters by name (strings such as the objective, numbers for the rest)."""


class TreeHyperparameters(Protocol):
    """The scikit-learn-style hyperparameters every boosted estimator of the project exposes."""

    max_depth: int
    learning_rate: float
    subsample: float
    colsample_bytree: float
    min_child_weight: float
    reg_lambda: float
    n_jobs: int
    random_state: int


def booster_params(model: TreeHyperparameters, *, objective: str, eval_metric: str) -> BoosterParams:
    """XGBoost training parameters of ``model`` for ``objective`` (histogram trees, 128 bins).

    Args:
        model: an estimator with the project's boosting hyperparameters.
        objective: XGBoost objective, e.g. ``survival:cox`` or ``binary:logistic``.
        eval_metric: the metric matching the objective.

    Returns:
        The parameters ``xgb.train`` takes.
    """
    return {
        "objective": objective,
        "eval_metric": eval_metric,
        "tree_method": "hist",
        "max_bin": 128,
        "max_depth": model.max_depth,
        "eta": model.learning_rate,
        "subsample": model.subsample,
        "colsample_bytree": model.colsample_bytree,
        "min_child_weight": model.min_child_weight,
        "lambda": model.reg_lambda,
        "nthread": model.n_jobs,
        "seed": model.random_state,
    }


def train_booster(
    params: BoosterParams,
    X: np.ndarray,
    *,
    label: np.ndarray,
    rounds: int,
    feature_names: Sequence[str],
    weight: np.ndarray | None = None,
) -> xgb.Booster:
    """Train ``rounds`` boosting rounds on the encoded matrix ``X`` and name the booster's features.

    Args:
        params: XGBoost training parameters (``nthread`` is used for the matrix too).
        X: float32 matrix, NaN for missing.
        label: training labels (for ``survival:cox``: the time, negative when censored).
        rounds: boosting rounds.
        feature_names: column names, in ``X`` order.
        weight: optional per-row weights.

    Returns:
        The trained booster, with ``feature_names`` set.
    """
    matrix = xgb.DMatrix(X, label=label, weight=weight, missing=np.nan, nthread=int(params.get("nthread", 1)))
    booster = xgb.train(params, matrix, num_boost_round=rounds)
    booster.feature_names = list(feature_names)
    return booster


def predict_margin(booster: xgb.Booster, X: np.ndarray, *, nthread: int = 1) -> np.ndarray:
    """The booster's raw margin for each row of the encoded matrix ``X`` (float64)."""
    matrix = xgb.DMatrix(X, missing=np.nan, nthread=nthread, feature_names=booster.feature_names)
    return booster.predict(matrix, output_margin=True, validate_features=False).astype(np.float64)
