"""Out-of-sample evaluation: stratified k-fold and leave-one-centre-out, tuning inside each fold."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.model_selection import StratifiedKFold

from .candidates import Candidate
from .metrics import auroc, calibration
from .tune import tune_xgb


@dataclass(frozen=True)
class Fold:
    name: str
    train: np.ndarray  # positional indices into the development frame
    test: np.ndarray


@dataclass
class CrossPrediction:
    """Out-of-fold probabilities (rows: patients of the development frame; columns: candidates)."""

    probabilities: pd.DataFrame
    tuned_params: dict[str, dict[str, Any]]


def stratified_folds(label: pd.Series, *, n_splits: int = 5, seed: int = 0) -> list[Fold]:
    """Stratified folds over every patient; censored patients (NaN label) form their own stratum."""
    strata = label.fillna(-1).astype(int).to_numpy()
    splitter = StratifiedKFold(n_splits, shuffle=True, random_state=seed)
    return [Fold(f"fold{i + 1}", tr, te) for i, (tr, te) in enumerate(splitter.split(np.zeros(len(strata)), strata))]


def centre_folds(center: pd.Series, label: pd.Series, *, min_events: int = 5) -> list[Fold]:
    """Leave-one-centre-out folds (centres with too few labelled events to score are skipped)."""
    folds = []
    for name in sorted(center.dropna().unique()):
        test = np.flatnonzero(center.to_numpy() == name)
        y = label.iloc[test].dropna()
        if y.sum() >= min_events and (y == 0).sum() >= min_events:
            folds.append(Fold(str(name), np.flatnonzero(center.to_numpy() != name), test))
    return folds


def cross_predict(
    frame: pd.DataFrame,
    label: pd.Series,
    candidates: Sequence[Candidate],
    folds: Sequence[Fold],
    *,
    tune: Callable[..., tuple[dict[str, Any], pd.DataFrame]] = tune_xgb,
    tune_specs: Sequence[Any] = (),
    n_configs: int = 4,
    seed: int = 0,
    n_jobs: int = 1,
    on_fold: Callable[[str], None] | None = None,
) -> CrossPrediction:
    """Fit every candidate on each fold's labelled training patients; predict its test patients.

    XGBoost parameters are chosen per fold by ``tune`` on that fold's training patients only,
    then shared by every XGBoost candidate of the fold (the ablations included). Folds run in
    ``n_jobs`` worker processes.
    """
    probabilities = pd.DataFrame(np.nan, index=frame.index, columns=[c.name for c in candidates])
    tuned: dict[str, dict[str, Any]] = {}
    jobs = (delayed(_run_fold)(fold, frame, label, candidates, tune, tune_specs, n_configs, seed) for fold in folds)
    for fold, fold_probs, params in Parallel(n_jobs=n_jobs, return_as="generator")(jobs):
        tuned[fold.name] = params
        for name, values in fold_probs.items():
            probabilities.iloc[fold.test, probabilities.columns.get_loc(name)] = values
        if on_fold:
            on_fold(fold.name)
    return CrossPrediction(probabilities, tuned)


def _run_fold(
    fold: Fold, frame: pd.DataFrame, label: pd.Series, candidates: Sequence[Candidate],
    tune: Callable[..., tuple[dict[str, Any], pd.DataFrame]], tune_specs: Sequence[Any], n_configs: int, seed: int,
) -> tuple[Fold, dict[str, np.ndarray], dict[str, Any]]:
    train = fold.train[label.iloc[fold.train].notna().to_numpy()]
    X_train, y_train = frame.iloc[train], label.iloc[train].to_numpy(dtype=int)
    params, _ = tune(X_train, y_train, tune_specs, n_configs=n_configs, seed=seed)
    X_test = frame.iloc[fold.test]
    probs = {c.name: c.build(params, seed=seed).fit(X_train, y_train).predict_proba(X_test)[:, 1] for c in candidates}
    return fold, probs, params


def subgroup_table(
    y_true: pd.Series, y_prob: pd.Series, groups: dict[str, pd.Series], *, min_events: int = 10
) -> pd.DataFrame:
    """AUROC and calibration of one model's predictions within each subgroup."""
    rows = []
    labelled = y_true.notna()
    for variable, values in groups.items():
        for level in sorted(values[labelled].dropna().unique()):
            mask = labelled & (values == level)
            y, p = y_true[mask].to_numpy(dtype=int), y_prob[mask].to_numpy()
            enough = y.sum() >= min_events and (1 - y).sum() >= min_events
            intercept, slope = calibration(y, p) if enough else (np.nan, np.nan)
            rows.append({
                "subgroup": variable, "level": str(level), "n": int(mask.sum()), "events": int(y.sum()),
                "observed_rate": float(y.mean()), "mean_predicted": float(p.mean()),
                "auroc": auroc(y, p) if enough else np.nan, "cal_intercept": intercept, "cal_slope": slope,
            })
    return pd.DataFrame(rows)
