"""Observed risk under censoring: Kaplan-Meier, Aalen-Johansen, reverse Kaplan-Meier, calibration tables."""

from __future__ import annotations

import numpy as np
import pytest
from lifelines import AalenJohansenFitter, KaplanMeierFitter

from training.observed import (
    calibration_table,
    cumulative_incidence,
    km_risk,
    median_follow_up,
    risk_group_table,
)


def _data(seed: int = 0, n: int = 800, *, days: bool = True):
    rng = np.random.default_rng(seed)
    event_time, censor = rng.exponential(300, n), rng.exponential(600, n)
    if days:
        event_time, censor = np.ceil(event_time), np.ceil(censor)
    time = np.minimum(event_time, censor)
    event = event_time <= censor
    cause = np.where(event, np.where(rng.random(n) < 0.85, 1, 2), 0)
    return time, event, cause


def test_kaplan_meier_risk_agrees_with_lifelines():
    time, event, _ = _data()
    risk, low, high = km_risk(time, event, 365)
    expected = 1 - KaplanMeierFitter().fit(time, event).survival_function_at_times(365).iloc[0]
    assert risk == pytest.approx(expected, abs=1e-12) and low < risk < high


def test_aalen_johansen_agrees_with_lifelines_and_causes_add_up():
    time, event, cause = _data(1, days=False)  # lifelines' Aalen-Johansen jitters tied times
    table = cumulative_incidence(time, cause, [365])
    for k, name in ((1, "progression"), (2, "death without progression")):
        fitter = AalenJohansenFitter(calculate_variance=False).fit(time, cause, event_of_interest=k)
        expected = fitter.cumulative_density_.loc[:365].iloc[-1, 0]
        assert table.set_index("cause").loc[name, "incidence"] == pytest.approx(expected, abs=1e-9)
    assert table["incidence"].sum() == pytest.approx(km_risk(time, event, 365)[0], abs=1e-9)


def test_reverse_kaplan_meier_follow_up_is_censoring_median():
    time, event, _ = _data(2)
    expected = KaplanMeierFitter().fit(time, ~event).median_survival_time_
    assert median_follow_up(time, event) == pytest.approx(expected)


def test_calibration_and_group_tables():
    time, event, cause = _data(3)
    risk = np.linspace(0.05, 0.95, len(time))
    table = calibration_table(time, event, risk, horizon=365, groups=5)
    assert list(table["n"]) == [160] * 5 and table["mean_predicted"].is_monotonic_increasing
    groups = np.where(risk < 0.3, "low", np.where(risk < 0.6, "intermediate", "high"))
    summary = risk_group_table(
        time, event, cause, groups, levels=("low", "intermediate", "high"), horizons=[90, 365], headline=365
    )
    assert list(summary["risk_group"]) == ["all", "low", "intermediate", "high"]
    assert summary.loc[0, "n"] == summary.loc[1:, "n"].sum()
    assert {"progression_365", "death_no_progression_365"} <= set(summary.columns)
