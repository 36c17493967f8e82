"""training/fit.py: one landmark trained, evaluated and packaged (pure: no MLflow).

The winner rule and the evaluation grid are tested on their own; the rest on a 600-patient registry
trained once per session (``tiny_result``, about 35 s, hence ``slow``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synth.frames import random_survival_frame
from training.candidates import MAIN, make_candidates
from training.config import load_training_config
from training.fit import METRICS, available_candidates, evaluation_spec, pick_winner

CONFIG = load_training_config()
CANDIDATES = make_candidates("preinfusion")
ABLATIONS = [c.name for c in CANDIDATES if c.packageable and c.name != MAIN]


def _evals(deltas: dict[str, float], noise: float) -> dict[str, dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    base = 0.65 + 0.01 * rng.normal(size=201)
    evals = {MAIN: {"uno_c_365": base}}
    for name in ABLATIONS:
        evals[name] = {"uno_c_365": base + deltas.get(name, -0.02) + noise * rng.normal(size=201)}
    return evals


def test_the_main_model_wins_unless_an_ablation_is_better_beyond_noise():
    assert pick_winner(_evals({}, 0.005), CANDIDATES) == MAIN
    assert pick_winner(_evals({ABLATIONS[0]: 0.01}, 0.05), CANDIDATES) == MAIN  # inside the noise
    better = _evals({ABLATIONS[0]: 0.02, ABLATIONS[1]: 0.04}, 0.005)
    assert pick_winner(better, CANDIDATES) == ABLATIONS[1]  # the best of those beyond noise


def test_scores_computable_for_few_patients_are_kept_with_a_note():
    frame, _ = random_survival_frame(100, seed=1)
    frame["ipi"] = np.where(np.arange(100) < 30, 2.0, np.nan)
    kept, notes = available_candidates("preinfusion", frame)
    assert "score:ipi" in {c.name for c in kept}
    assert (
        "score:ipi: computable for only 30% of development patients; the others take the training median"
        in notes
    )


def test_the_evaluation_spec_is_the_configuration():
    times = CONFIG.evaluation_times()
    spec = evaluation_spec(CONFIG, times)
    assert tuple(spec.horizons) == tuple(CONFIG.horizons_days) and spec.headline == 365
    assert tuple(spec.taus) == tuple(CONFIG.evaluation.uno_c_truncation_days)
    np.testing.assert_array_equal(spec.times, times)


@pytest.mark.slow
def test_every_candidate_is_scored_on_cross_validation_and_the_holdout(tiny_result):
    names = [c.name for c in tiny_result.candidates]
    assert tiny_result.cv["candidate"].tolist() == names == tiny_result.holdout["candidate"].tolist()
    assert {f"{m}{s}" for m in METRICS for s in ("", "_lo", "_hi")} <= set(tiny_result.cv.columns)
    assert tiny_result.winner in names
    winner_row = tiny_result.holdout.set_index("candidate").loc[tiny_result.winner]
    pd.testing.assert_series_equal(pd.Series(tiny_result.winner_holdout), winner_row, check_names=False)
    main_c = tiny_result.holdout.set_index("candidate").loc[MAIN, "uno_c_365"]
    assert 0.5 < main_c <= 1


@pytest.mark.slow
def test_every_development_patient_is_predicted_out_of_fold(tiny_result):
    n_dev = int(tiny_result.data.development.sum())
    n_holdout = int(tiny_result.data.holdout.sum())
    column = int(np.searchsorted(tiny_result.times, 365))
    for candidate in tiny_result.candidates:
        risk = tiny_result.oof.risks[candidate.name]
        assert risk.shape == (n_dev, len(tiny_result.times))
        assert np.isfinite(risk[:, column]).all() and ((risk[:, column] >= 0) & (risk[:, column] <= 1)).all()
        assert tiny_result.holdout_risks[candidate.name].shape == (n_holdout, len(tiny_result.times))
    survival = tiny_result.oof.risks[MAIN]
    assert (np.diff(survival, axis=1) >= -1e-12).all()  # curves non-decreasing in time


@pytest.mark.slow
def test_tuned_parameters_come_from_the_declared_space(tiny_result):
    space = CONFIG.xgboost_search.space
    for params in [*tiny_result.oof.tuned_params.values(), tiny_result.final_params]:
        assert all(params["xgboost"][k] in space[k] for k in space)
        assert params["linear_cox"]["alpha"] in CONFIG.linear_cox.alphas
    assert len(tiny_result.oof.tuned_params) == CONFIG.evaluation.cv_folds


@pytest.mark.slow
def test_the_packaged_winner_explains_its_margin_and_carries_the_metrics(tiny_result):
    predictor = tiny_result.predictor
    winner = next(c for c in tiny_result.candidates if c.name == tiny_result.winner)
    assert [s.name for s in predictor.metadata.features] == [s.name for s in winner.specs]
    assert predictor.metadata.training_fingerprint == tiny_result.data.fingerprint
    held_out_c = tiny_result.winner_holdout["uno_c_365"]
    assert predictor.metadata.metrics["holdout_uno_c_365"] == pytest.approx(held_out_c)
    out = predictor.predict_frame(tiny_result.data.frame.iloc[:30])
    contributions = out.filter(like="contrib__").sum(axis=1)
    np.testing.assert_allclose(out["base_value"] + contributions, out["margin"], atol=1e-4)
    assert list(tiny_result.shap_checks.columns) == ["check", "n", "spearman", "ok", "note"]
    assert set(tiny_result.timings) == {
        "cross_validation_s",
        "leave_one_centre_out_s",
        "final_fit_s",
        "summaries_s",
    }
