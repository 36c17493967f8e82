"""Metrics against references and hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from training.metrics import auroc, bootstrap_auroc_ci, calibration, harrell_c, net_benefit, net_benefit_treat_all


def test_auroc_matches_sklearn_with_ties():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 500)
    p = np.round(rng.random(500) + 0.3 * y, 1)  # many ties
    assert auroc(y, p) == pytest.approx(roc_auc_score(y, p))


def test_bootstrap_ci_brackets_the_estimate():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 400)
    p = rng.random(400) + 0.5 * y
    lo, hi = bootstrap_auroc_ci(y, p, n_boot=300)
    assert lo < auroc(y, p) < hi and hi - lo < 0.15


def test_calibration_recovers_known_miscalibration():
    rng = np.random.default_rng(3)
    lp = rng.normal(size=40_000)
    y = rng.random(40_000) < 1 / (1 + np.exp(-lp))
    assert calibration(y, 1 / (1 + np.exp(-lp))) == pytest.approx((0.0, 1.0), abs=0.05)
    intercept, slope = calibration(y, 1 / (1 + np.exp(-2 * lp)))  # overconfident model
    assert slope == pytest.approx(0.5, abs=0.05)


def test_harrell_c_hand_case():
    time = np.array([1, 2, 3, 4])
    event = np.array([1, 1, 0, 1])
    # usable pairs: (0,1) (0,2) (0,3) (1,2) (1,3); risk decreasing with time except one swap
    risk = np.array([0.9, 0.5, 0.6, 0.1])
    assert harrell_c(time, event, risk) == pytest.approx(4 / 5)


def test_net_benefit_hand_case():
    y = np.array([1, 1, 0, 0, 0])
    p = np.array([0.9, 0.3, 0.6, 0.1, 0.2])
    # threshold 0.5: treat patients 0 and 2 -> TP 1, FP 1 -> 1/5 - 1/5 * 1 = 0
    assert net_benefit(y, p, 0.5) == pytest.approx(0.0)
    assert net_benefit(y, p, 0.25) == pytest.approx(2 / 5 - 1 / 5 * (0.25 / 0.75))
    assert net_benefit_treat_all(y, 0.25) == pytest.approx(0.4 - 0.6 / 3)
