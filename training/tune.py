"""A small, seeded hyperparameter search for XGBoost, run inside the training folds only.

The caller passes only the training part of an outer fold; the inner folds split that further,
so no outer test patient ever influences the chosen parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from features.catalogue import FeatureSpec
from models.xgb_classifier import XGBRelapseClassifier

from .metrics import auroc

SEARCH_SPACE: dict[str, Sequence[Any]] = {
    "max_depth": (2, 3, 4),
    "learning_rate": (0.03, 0.05, 0.08),
    "n_estimators": (150, 250, 400),
    "min_child_weight": (2.0, 5.0, 10.0),
    "subsample": (0.7, 0.85),
    "colsample_bytree": (0.5, 0.8),
    "reg_lambda": (1.0, 5.0),
}


DEFAULT_PARAMS: dict[str, Any] = {"max_depth": 3, "learning_rate": 0.05, "n_estimators": 250, "min_child_weight": 5.0,
                                  "subsample": 0.85, "colsample_bytree": 0.8, "reg_lambda": 1.0}


def default_params(X: pd.DataFrame, y: np.ndarray, specs: Sequence[FeatureSpec], **_: Any) -> tuple[dict[str, Any], pd.DataFrame]:
    """No search: the fixed defaults (used where per-fold tuning would cost more than it tells)."""
    return dict(DEFAULT_PARAMS), pd.DataFrame([DEFAULT_PARAMS])


def sample_configs(n_configs: int, seed: int) -> list[dict[str, Any]]:
    """``n_configs`` distinct random draws from :data:`SEARCH_SPACE` (deterministic for a seed)."""
    rng = np.random.default_rng(seed)
    configs: list[dict[str, Any]] = []
    while len(configs) < n_configs:
        config = {k: values[rng.integers(len(values))] for k, values in SEARCH_SPACE.items()}
        config = {k: v.item() if hasattr(v, "item") else v for k, v in config.items()}
        if config not in configs:
            configs.append(config)
    return configs


def tune_xgb(
    X: pd.DataFrame, y: np.ndarray, specs: Sequence[FeatureSpec], *, n_configs: int = 4, inner_folds: int = 3, seed: int = 0
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Pick the configuration with the best mean inner-fold AUROC.

    Args:
        X: training frame of ONE outer fold (labelled patients only).
        y: its labels.
        specs: features.
        n_configs: configurations tried.
        inner_folds: inner cross-validation folds.
        seed: seeds the draws, the folds and XGBoost.

    Returns:
        The best parameters and a table of every configuration with its inner AUROC.
    """
    y = np.asarray(y, dtype=int)
    splits = list(StratifiedKFold(inner_folds, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))
    rows = []
    for config in sample_configs(n_configs, seed):
        scores = []
        for train, test in splits:
            model = XGBRelapseClassifier(specs, random_state=seed, **config).fit(X.iloc[train], y[train])
            scores.append(auroc(y[test], model.predict_proba(X.iloc[test])[:, 1]))
        rows.append({**config, "inner_auroc": float(np.mean(scores))})
    table = pd.DataFrame(rows).sort_values("inner_auroc", ascending=False, kind="stable")
    best = table.iloc[0].drop("inner_auroc").to_dict()
    best = {k: (int(v) if k in ("max_depth", "n_estimators") else float(v)) for k, v in best.items()}
    return best, table.reset_index(drop=True)
