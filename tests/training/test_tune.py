"""training/tune.py: hyperparameter searches inside one training fold."""

from __future__ import annotations

import numpy as np
import pytest

from features.catalogue import load_catalogue
from models.linear_cox import LinearCoxSurvival
from models.xgb_survival import XGBCoxSurvival
from synth.frames import random_survival_frame
from training.config import load_training_config
from training.labels import structured_target
from training.tune import default_params, tune_all, tune_linear_cox, tune_xgb

SPECS = load_catalogue().feature_specs("preinfusion")
CONFIG = load_training_config()


@pytest.fixture(scope="module")
def fold():
    frame, targets = random_survival_frame(240, seed=6, missing=0.1)
    return frame, structured_target(targets)


@pytest.fixture
def seen(monkeypatch):
    """The patient ids every model was fitted on or scored on during a search."""
    rows: list[set[str]] = []
    for cls in (XGBCoxSurvival, LinearCoxSurvival):
        for method in ("fit", "score"):
            original = getattr(cls, method)

            def spy(self, X, y, _original=original):
                rows.append(set(X["patient_id"]))
                return _original(self, X, y)

            monkeypatch.setattr(cls, method, spy)
    return rows


def test_the_xgboost_search_draws_from_the_declared_space_and_sees_only_its_rows(fold, seen):
    frame, y = fold
    best, table = tune_xgb(frame.iloc[:180], y[:180], SPECS, n_configs=3, seed=1)
    space = CONFIG.xgboost_search.space
    assert set(best) == set(space) and all(best[k] in space[k] for k in space)
    assert len(table) == 3 and set(table.columns) == {*space, "inner_score"}
    assert table["inner_score"].is_monotonic_decreasing
    assert {k: table.iloc[0][k] for k in space} == pytest.approx(best)  # the best row is the choice
    held_out = set(frame["patient_id"].iloc[180:])
    assert seen and all(not rows & held_out for rows in seen)
    assert len(seen) == 2 * 3 * CONFIG.evaluation.inner_folds  # fit + score per config and inner fold


def test_the_penalty_grid_is_searched_in_full(fold, seen):
    frame, y = fold
    best, table = tune_linear_cox(frame.iloc[:180], y[:180], SPECS, seed=1)
    assert sorted(table["alpha"]) == sorted(CONFIG.linear_cox.alphas)
    assert best["alpha"] == table.iloc[0]["alpha"] and isinstance(best["alpha"], float)
    assert all(not rows & set(frame["patient_id"].iloc[180:]) for rows in seen)


def test_tune_all_gives_each_family_its_own_search(fold):
    frame, y = fold
    both = tune_all(frame, y, SPECS, n_configs=2, seed=3)
    assert both == {
        "xgboost": tune_xgb(frame, y, SPECS, n_configs=2, seed=3)[0],
        "linear_cox": tune_linear_cox(frame, y, SPECS, seed=3)[0],
    }


def test_the_seed_changes_the_draws(fold):
    frame, y = fold
    tables = [tune_xgb(frame, y, SPECS, n_configs=3, seed=s)[1] for s in (0, 1)]
    columns = sorted(CONFIG.xgboost_search.space)
    draws = [set(map(tuple, t[columns].to_numpy().tolist())) for t in tables]
    assert draws[0] != draws[1]


def test_default_params_are_the_configured_defaults_without_looking_at_data():
    params = default_params(None, None, SPECS)
    assert params["xgboost"] == dict(CONFIG.xgboost_search.defaults)
    assert params["linear_cox"] == {"alpha": float(np.median(CONFIG.linear_cox.alphas))}
