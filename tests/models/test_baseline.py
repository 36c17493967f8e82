"""The Breslow baseline the packaged model uses equals scikit-survival's, and risk behaves."""

from __future__ import annotations

import numpy as np
import pytest
from sksurv.linear_model.coxph import BreslowEstimator

from models.baseline import breslow_cumulative_hazard, cumulative_hazard_at, risk_from_margin, survival_arrays


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_breslow_matches_scikit_survival(seed):
    rng = np.random.default_rng(seed)
    n = 400
    margin = rng.normal(size=n)
    time = np.ceil(rng.exponential(200 * np.exp(-margin)))  # whole days: many tied times
    event = rng.random(n) < 0.7
    times, cumhaz = breslow_cumulative_hazard(time, event, margin)
    reference = BreslowEstimator().fit(margin, event, time)
    grid = np.array([0.5, 1, 10, 50, 100, 365, 2000])
    expected = reference.cum_baseline_hazard_(
        np.clip(grid, reference.cum_baseline_hazard_.x[0], reference.cum_baseline_hazard_.x[-1])
    )
    expected[grid < reference.cum_baseline_hazard_.x[0]] = 0.0
    np.testing.assert_allclose(cumulative_hazard_at(times, cumhaz, grid), expected, rtol=1e-10, atol=1e-12)


def test_risk_rises_with_margin_and_time():
    cumhaz = np.array([0.1, 0.3, 0.5, 0.9])
    risk = risk_from_margin(np.array([-2.0, 0.0, 1.5]), cumhaz)
    assert np.all(np.diff(risk, axis=1) >= 0) and np.all(np.diff(risk, axis=0) >= 0)
    np.testing.assert_allclose(risk[1], 1 - np.exp(-cumhaz))


def test_survival_arrays_accepts_structured_and_columns_and_rejects_bad_times():
    structured = np.array([(True, 0.0), (False, 12.0)], dtype=[("event", bool), ("time", float)])
    event, time = survival_arrays(structured)
    assert event.tolist() == [True, False] and time.tolist() == [0.5, 12.0]
    assert survival_arrays({"event": [1, 0], "time": [3, 4]})[1].tolist() == [3.0, 4.0]
    with pytest.raises(ValueError, match="finite and non-negative"):
        survival_arrays({"event": [1], "time": [-1]})
