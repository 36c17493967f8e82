"""The bootstrap evaluator's point estimates are scikit-survival's estimators, and its resamples pair."""

from __future__ import annotations

import numpy as np
import pytest
from sksurv.metrics import brier_score, concordance_index_ipcw, cumulative_dynamic_auc, integrated_brier_score
from sksurv.nonparametric import CensoringDistributionEstimator

from training.config import load_training_config
from training.fit import evaluation_spec
from training.observed import km_risk
from training.performance import paired_delta
from training.survival_metrics import SurvivalEvaluator, order_censoring_after_events, summarise

CONFIG = load_training_config()
TIMES = CONFIG.evaluation_times()
SPEC = evaluation_spec(CONFIG, TIMES)


def _data(seed: int, n: int = 600, rounded: bool = True):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    if rounded:
        x = np.round(x, 1)  # tied risk scores
    time = np.ceil(rng.exponential(300 * np.exp(-x)))
    censor = np.ceil(rng.exponential(900, n))
    event = time <= censor
    risk = 1 - np.exp(-np.outer(np.exp(x), TIMES / 300))
    y = np.array(
        list(zip(event, np.minimum(time, censor), strict=True)), dtype=[("event", bool), ("time", float)]
    )
    return y, risk


def _ordered(y: np.ndarray) -> np.ndarray:
    """What the evaluator estimates on: censorings after same-day events."""
    out = y.copy()
    out["time"] = order_censoring_after_events(y["time"], y["event"])
    return out


def _col(t: float) -> int:
    return int(np.searchsorted(TIMES, t))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_point_estimates_equal_scikit_survival(seed):
    raw, risk = _data(seed)
    values = SurvivalEvaluator(raw["time"], raw["event"], SPEC, n_boot=0, seed=0).evaluate(risk)
    y = _ordered(raw)
    for tau in (365, 730):
        expected = concordance_index_ipcw(y, y, risk[:, _col(tau)], tau=tau)[0]
        assert values[f"uno_c_{tau}"][0] == pytest.approx(expected, abs=1e-9)
    horizons = list(CONFIG.horizons_days)
    auc = cumulative_dynamic_auc(y, y, risk[:, [_col(h) for h in horizons]], horizons)[0]
    brier = brier_score(y, y, 1 - risk[:, [_col(h) for h in horizons]], horizons)[1]
    for k, h in enumerate(horizons):
        assert values[f"auc_{h}"][0] == pytest.approx(auc[k], abs=1e-9)
        assert values[f"brier_{h}"][0] == pytest.approx(brier[k], abs=1e-9)
    grid = CONFIG.brier_grid()
    ibs = integrated_brier_score(y, y, 1 - risk[:, [_col(t) for t in grid]], grid)
    assert values["ibs"][0] == pytest.approx(ibs, abs=1e-9)


def test_net_benefit_is_the_ipcw_formula():
    raw, risk = _data(3)
    evaluator = SurvivalEvaluator(raw["time"], raw["event"], SPEC, n_boot=0, seed=0)
    values = evaluator.evaluate(risk)
    y = _ordered(raw)
    g = CensoringDistributionEstimator().fit(y)
    case = y["event"] & (y["time"] <= 365)
    control = y["time"] > 365
    g_obs = g.predict_proba(y["time"])
    inverse = np.divide(1.0, g_obs, out=np.zeros_like(g_obs), where=g_obs > 0)  # scikit-survival's convention
    odds = 0.4 / 0.6
    treat = risk[:, _col(365)] >= 0.4
    benefit = np.mean(treat * case * inverse) - np.mean(treat * control) / g.predict_proba([365])[0] * odds
    assert values["nb_0.40"][0] == pytest.approx(benefit, abs=1e-12)
    treat_all = np.mean(case * inverse) - np.mean(control) / g.predict_proba([365])[0] * odds
    assert evaluator.treat_all()["nb_0.40"][0] == pytest.approx(treat_all, abs=1e-12)


def test_resamples_are_shared_so_differences_are_paired():
    y, risk = _data(4)
    evaluator = SurvivalEvaluator(y["time"], y["event"], SPEC, n_boot=100, seed=5)
    evals = {
        "a": evaluator.evaluate(risk),
        "b": evaluator.evaluate(risk),
        "noise": evaluator.evaluate(np.sqrt(risk)),
    }
    assert paired_delta(evals, "a", "b", "uno_c_365") == (0.0, 0.0, 0.0)
    point, low, high = summarise(evals["a"]["uno_c_365"])
    assert low < point < high
    again = SurvivalEvaluator(y["time"], y["event"], SPEC, n_boot=100, seed=5).evaluate(risk)
    np.testing.assert_array_equal(again["uno_c_365"], evals["a"]["uno_c_365"])


def test_a_model_without_a_curve_gets_nan_only_where_it_has_no_prediction():
    y, risk = _data(6)
    partial = np.full_like(risk, np.nan)
    partial[:, _col(365)] = risk[:, _col(365)]
    values = SurvivalEvaluator(y["time"], y["event"], SPEC, n_boot=0, seed=0).evaluate(partial)
    assert (
        np.isfinite(values["uno_c_365"][0])
        and np.isfinite(values["uno_c_730"][0])
        and np.isfinite(values["auc_365"][0])
    )
    assert np.isnan(values["auc_90"][0]) and np.isnan(values["ibs"][0])


def test_ipcw_event_rate_equals_kaplan_meier_when_events_and_censorings_share_days():
    rng = np.random.default_rng(7)
    n = 3000
    time = rng.choice([30.0, 90.0, 180.0, 365.0, 547.0], n)  # assessment days only: heavy ties
    event = rng.random(n) < 0.55
    values = SurvivalEvaluator(time, event, SPEC, n_boot=0, seed=0).evaluate(np.full((n, len(TIMES)), 0.5))
    assert values["observed_risk_365"][0] == pytest.approx(km_risk(time, event, 365)[0], abs=1e-9)
