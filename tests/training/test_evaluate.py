"""Fold hygiene: tuning sees only the training part of each outer fold; folds cover everyone."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.catalogue import load_catalogue
from tests.factories import random_feature_frame
from training.candidates import make_candidates
from training.evaluate import centre_folds, cross_predict, stratified_folds
from training.tune import sample_configs, tune_xgb


def test_tuning_never_sees_test_fold_patients():
    frame, label = random_feature_frame(300, seed=1)
    label.iloc[::17] = np.nan  # some censored patients
    folds = stratified_folds(label, n_splits=3, seed=0)
    seen: list[set[str]] = []

    def spy_tune(X, y, specs, **kwargs):
        seen.append(set(X["patient_id"]))
        assert len(X) == len(y) and not np.isnan(y).any()
        return {"n_estimators": 20, "max_depth": 2}, pd.DataFrame()

    candidates = [c for c in make_candidates("preinfusion") if c.name in ("xgboost", "score:ipi")]
    result = cross_predict(frame, label, candidates, folds, tune=spy_tune, tune_specs=candidates[0].specs)
    for fold, patients in zip(folds, seen, strict=True):
        assert not patients & set(frame["patient_id"].iloc[fold.test])
        assert patients <= set(frame["patient_id"].iloc[fold.train])
    assert result.probabilities.notna().all().all()  # censored patients are predicted too (for Harrell's C)


def test_stratified_folds_partition_every_patient():
    _, label = random_feature_frame(200, seed=2)
    folds = stratified_folds(label, n_splits=5, seed=0)
    tests = np.concatenate([f.test for f in folds])
    assert sorted(tests) == list(range(200))


def test_centre_folds_hold_out_one_centre_each():
    frame, label = random_feature_frame(400, seed=3)
    for fold in centre_folds(frame["center"], label):
        assert set(frame["center"].iloc[fold.test]) == {fold.name}
        assert fold.name not in set(frame["center"].iloc[fold.train])


def test_tuning_is_seeded_and_learns_something():
    frame, label = random_feature_frame(400, seed=4, missing=0.0)
    specs = load_catalogue().feature_specs("preinfusion")
    assert sample_configs(3, seed=5) == sample_configs(3, seed=5)
    best, table = tune_xgb(frame, label.to_numpy(int), specs, n_configs=2, seed=5)
    again, _ = tune_xgb(frame, label.to_numpy(int), specs, n_configs=2, seed=5)
    assert best == again and table["inner_auroc"].max() > 0.6
