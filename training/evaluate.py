"""Out-of-sample predictions: stratified k-fold and leave-one-centre-out, tuning inside each fold.

Folds come from scikit-learn (``StratifiedKFold`` on the event indicator, ``LeaveOneGroupOut`` on
the centre). Every candidate predicts an absolute risk at every time of the evaluation grid for its
fold's test patients; the pooled out-of-fold matrices are what the censoring-aware metrics score.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.model_selection import LeaveOneGroupOut, StratifiedKFold

from features.catalogue import FeatureSpec

from .candidates import Candidate
from .labels import structured_target

Tuner = Callable[..., dict[str, dict[str, Any]]]


@dataclass(frozen=True)
class Fold:
    """One cross-validation fold: its name and the training and test rows."""

    name: str
    train: np.ndarray  # positional indices into the development frame
    test: np.ndarray


@dataclass
class CrossPrediction:
    """Out-of-fold risk matrices: candidate -> (n patients, n times), NaN where not predicted."""

    risks: dict[str, np.ndarray]
    tuned_params: dict[str, dict[str, dict[str, Any]]]

    def risk_at(self, candidate: str, column: int) -> pd.Series:
        """The cross-validated risk of ``candidate`` at horizon column ``column``."""
        return pd.Series(self.risks[candidate][:, column])


def stratified_folds(event: pd.Series, *, n_splits: int = 5, seed: int = 0) -> list[Fold]:
    """Folds over every patient, stratified on the event indicator (censored patients in every fold)."""
    splitter = StratifiedKFold(n_splits, shuffle=True, random_state=seed)
    strata = event.to_numpy(dtype=int)
    return [
        Fold(f"fold{i + 1}", tr, te)
        for i, (tr, te) in enumerate(splitter.split(np.zeros(len(strata)), strata))
    ]


def centre_folds(center: pd.Series, event: pd.Series, *, min_events: int = 10) -> list[Fold]:
    """Leave-one-centre-out folds.

    A centre with fewer than ``min_events`` events (or event-free patients) is never held out on its own, but
    its patients stay in every training set.
    """
    folds = []
    groups = center.fillna("(unknown)").to_numpy()
    for train, test in LeaveOneGroupOut().split(np.zeros(len(groups)), groups=groups):
        events = int(event.iloc[test].sum())
        if events >= min_events and len(test) - events >= min_events:
            folds.append(Fold(str(groups[test[0]]), train, test))
    return folds


def cross_predict(
    frame: pd.DataFrame,
    targets: pd.DataFrame,
    candidates: Sequence[Candidate],
    folds: Sequence[Fold],
    *,
    times: np.ndarray,
    tune: Tuner,
    tune_specs: Sequence[FeatureSpec],
    n_configs: int = 4,
    seed: int = 0,
    n_jobs: int = 1,
    on_fold: Callable[[str], None] | None = None,
) -> CrossPrediction:
    """Fit every candidate on each fold's training patients; predict its test patients' risk curves.

    Parameters are chosen per fold by ``tune`` on that fold's training patients only, then shared by
    the fold's candidates of the same family (the XGBoost ablations use the main model's parameters).
    Folds run in ``n_jobs`` worker processes.
    """
    risks = {c.name: np.full((len(frame), len(times)), np.nan) for c in candidates}
    tuned: dict[str, dict[str, dict[str, Any]]] = {}
    jobs = (
        delayed(_run_fold)(fold, frame, targets, candidates, times, tune, tune_specs, n_configs, seed)
        for fold in folds
    )
    for fold, fold_risks, params in Parallel(n_jobs=n_jobs, return_as="generator")(jobs):
        tuned[fold.name] = params
        for name, values in fold_risks.items():
            risks[name][fold.test] = values
        if on_fold:
            on_fold(fold.name)
    return CrossPrediction(risks, tuned)


def _run_fold(
    fold: Fold,
    frame: pd.DataFrame,
    targets: pd.DataFrame,
    candidates: Sequence[Candidate],
    times: np.ndarray,
    tune: Tuner,
    tune_specs: Sequence[FeatureSpec],
    n_configs: int,
    seed: int,
) -> tuple[Fold, dict[str, np.ndarray], dict[str, dict[str, Any]]]:
    X_train, y_train = frame.iloc[fold.train], structured_target(targets.iloc[fold.train])
    params = tune(X_train, y_train, tune_specs, n_configs=n_configs, seed=seed)
    X_test = frame.iloc[fold.test]
    risks = {
        c.name: c.build(params, seed=seed).fit(X_train, y_train).predict_risk(X_test, times)
        for c in candidates
    }
    return fold, risks, params
