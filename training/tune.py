"""Hyperparameter search inside the training folds only (scikit-learn's searches).

The caller passes only the training part of an outer fold; the inner folds split that further, so
no outer test patient ever influences the chosen parameters. Candidates are scored on the inner test
folds by their own ``score`` method: the Cox partial log-likelihood for XGBoost (it rewards calibrated
spread as well as ranking), Harrell's concordance index for the linear Cox penalty.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import GridSearchCV, KFold, RandomizedSearchCV

from features.catalogue import FeatureSpec
from models.linear_cox import LinearCoxSurvival
from models.xgb_survival import XGBCoxSurvival

from .config import load_training_config

Tuned = tuple[dict[str, Any], pd.DataFrame]


def default_params(
    X: pd.DataFrame, y: np.ndarray, specs: Sequence[FeatureSpec], **_: Any
) -> dict[str, dict[str, Any]]:
    """No search: the configured defaults.

    Used for leave-one-centre-out, where per-fold tuning costs more than it tells.
    """
    config = load_training_config()
    return {
        "xgboost": dict(config.xgboost_search.defaults),
        "linear_cox": {"alpha": float(np.median(config.linear_cox.alphas))},
    }


def tune_all(
    X: pd.DataFrame, y: np.ndarray, specs: Sequence[FeatureSpec], *, n_configs: int, seed: int
) -> dict[str, dict[str, Any]]:
    """Tuned parameters of the XGBoost Cox and the linear Cox model on one outer training fold."""
    return {
        "xgboost": tune_xgb(X, y, specs, n_configs=n_configs, seed=seed)[0],
        "linear_cox": tune_linear_cox(X, y, specs, seed=seed)[0],
    }


def tune_xgb(
    X: pd.DataFrame, y: np.ndarray, specs: Sequence[FeatureSpec], *, n_configs: int, seed: int
) -> Tuned:
    """Random search over the configured space (``n_configs`` draws), inner k-fold cross-validation.

    Returns:
        The best parameters and a table of every configuration with its mean inner score.
    """
    config = load_training_config()
    search = RandomizedSearchCV(
        XGBCoxSurvival(specs, recalibration_folds=0, random_state=seed),
        {k: list(v) for k, v in config.xgboost_search.space.items()},
        n_iter=n_configs,
        cv=_inner_folds(seed),
        refit=False,
        random_state=seed,
        n_jobs=1,
        error_score="raise",
    ).fit(X, y)
    return _best(search)


def tune_linear_cox(X: pd.DataFrame, y: np.ndarray, specs: Sequence[FeatureSpec], *, seed: int) -> Tuned:
    """Grid search of the elastic-net penalty, inner k-fold cross-validation."""
    config = load_training_config().linear_cox
    search = GridSearchCV(
        LinearCoxSurvival(specs, l1_ratio=config.l1_ratio),
        {"alpha": list(config.alphas)},
        cv=_inner_folds(seed),
        refit=False,
        n_jobs=1,
        error_score="raise",
    ).fit(X, y)
    return _best(search)


def _inner_folds(seed: int) -> KFold:
    return KFold(load_training_config().evaluation.inner_folds, shuffle=True, random_state=seed)


def _best(search: GridSearchCV | RandomizedSearchCV) -> Tuned:
    table = pd.DataFrame(search.cv_results_["params"]).assign(
        inner_score=search.cv_results_["mean_test_score"]
    )
    best = {k: (v.item() if hasattr(v, "item") else v) for k, v in search.best_params_.items()}
    return best, table.sort_values("inner_score", ascending=False, kind="stable").reset_index(drop=True)
