"""The candidate set: what each landmark compares, and what each recipe builds."""

from __future__ import annotations

import pytest

from models.ipcw import IPCWHorizonClassifier
from models.linear_cox import LinearCoxSurvival
from models.scores import ClinicalScoreCox
from models.xgb_survival import XGBCoxSurvival
from training.candidates import ABLATION_STEPS, MAIN, make_candidates


@pytest.mark.parametrize("landmark", ["preinfusion", "day30"])
def test_every_landmark_compares_survival_models_scores_and_the_ipcw_reference(landmark):
    candidates = {c.name: c for c in make_candidates(landmark)}
    assert next(iter(candidates)) == MAIN
    assert {
        "linear_cox",
        "ipcw_classifier",
        "score:ipi",
        "score:aaipi",
        "score:car_hematotox",
        "score:m_easix",
    } <= set(candidates)
    assert ("score:deauville" in candidates) == (landmark == "day30")
    for step in ABLATION_STEPS[:-1]:
        ablation = candidates["xgboost:" + "+".join(step)]
        assert {s.modality for s in ablation.specs} <= set(step) and not ablation.in_loco
    assert next(c.name for c in candidates.values() if c.packageable) == MAIN


def test_recipes_build_fresh_estimators_with_the_folds_parameters():
    candidates = {c.name: c for c in make_candidates("day30")}
    params = {"xgboost": {"max_depth": 2, "n_estimators": 10}, "linear_cox": {"alpha": 0.05}}
    xgb = candidates[MAIN].build(params, seed=3)
    assert isinstance(xgb, XGBCoxSurvival) and (xgb.max_depth, xgb.n_estimators, xgb.random_state) == (
        2,
        10,
        3,
    )
    assert (
        isinstance(candidates["linear_cox"].build(params), LinearCoxSurvival)
        and candidates["linear_cox"].build(params).alpha == 0.05
    )
    assert isinstance(candidates["score:deauville"].build(), ClinicalScoreCox)
    assert candidates["score:deauville"].build().column == "deauville_day30"
    assert isinstance(candidates["ipcw_classifier"].build(), IPCWHorizonClassifier)
