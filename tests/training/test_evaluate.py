"""Fold hygiene: tuning sees only the training part of each outer fold; folds cover everyone."""

from __future__ import annotations

import numpy as np

from features.catalogue import load_catalogue
from synth.frames import random_survival_frame
from training.candidates import make_candidates
from training.config import load_training_config
from training.evaluate import centre_folds, cross_predict, stratified_folds
from training.tune import tune_linear_cox, tune_xgb

TIMES = load_training_config().evaluation_times()


def test_tuning_never_sees_test_fold_patients_and_everyone_is_predicted():
    frame, targets = random_survival_frame(300, seed=1)
    folds = stratified_folds(targets["event"], n_splits=3, seed=0)
    seen: list[set[str]] = []

    def spy_tune(X, y, specs, **kwargs):
        seen.append(set(X["patient_id"]))
        assert len(X) == len(y)
        return {"xgboost": {"n_estimators": 20, "max_depth": 2}}

    candidates = [c for c in make_candidates("preinfusion") if c.name in ("xgboost", "score:ipi")]
    frame["ipi"] = frame["ipi"].fillna(2)
    result = cross_predict(
        frame, targets, candidates, folds, times=TIMES, tune=spy_tune, tune_specs=candidates[0].specs
    )
    for fold, patients in zip(folds, seen, strict=True):
        assert not patients & set(frame["patient_id"].iloc[fold.test])
        assert patients <= set(frame["patient_id"].iloc[fold.train])
    for risk in result.risks.values():
        assert np.isfinite(risk).all()  # censored patients are predicted too


def test_stratified_folds_partition_every_patient_and_balance_events():
    _, targets = random_survival_frame(200, seed=2)
    folds = stratified_folds(targets["event"], n_splits=5, seed=0)
    assert sorted(np.concatenate([f.test for f in folds])) == list(range(200))
    shares = [targets["event"].iloc[f.test].mean() for f in folds]
    assert max(shares) - min(shares) < 0.1


def test_centre_folds_hold_out_one_centre_each_and_skip_tiny_centres():
    frame, targets = random_survival_frame(400, seed=3)
    frame.loc[frame.index[:5], "center"] = "TINY"
    folds = centre_folds(frame["center"], targets["event"], min_events=10)
    assert "TINY" not in {f.name for f in folds}
    for fold in folds:
        assert set(frame["center"].iloc[fold.test]) == {fold.name}
        assert fold.name not in set(frame["center"].iloc[fold.train])


def test_searches_are_seeded():
    frame, targets = random_survival_frame(300, seed=4, missing=0.0)
    specs = load_catalogue().feature_specs("preinfusion")
    y = np.array(
        list(zip(targets["event"], targets["time"], strict=True)), dtype=[("event", bool), ("time", float)]
    )
    best, table = tune_xgb(frame, y, specs, n_configs=2, seed=5)
    again, _ = tune_xgb(frame, y, specs, n_configs=2, seed=5)
    assert best == again and len(table) == 2 and set(best) == set(load_training_config().xgboost_search.space)
    alpha, grid = tune_linear_cox(frame, y, specs, seed=5)
    assert alpha["alpha"] in load_training_config().linear_cox.alphas and len(grid) == len(
        load_training_config().linear_cox.alphas
    )
