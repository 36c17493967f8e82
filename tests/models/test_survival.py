"""Tests for models/survival.py on hand-checkable cases and a brute-force partial likelihood."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from models.survival import (
    cox_partial_loglik,
    cumulative_incidence_at,
    fit_cox,
    km_curve,
    km_median,
    km_survival_at,
)

# Six subjects: times and events chosen so that every KM step can be checked by hand.
TIMES = np.array([1, 2, 2, 3, 4, 5], dtype=float)
EVENTS = np.array([1, 1, 0, 1, 0, 1])


def _brute_loglik(time: np.ndarray, event: np.ndarray, x: np.ndarray, beta: np.ndarray) -> float:
    """Breslow log partial likelihood written as a plain loop over event subjects."""
    total = 0.0
    for i in range(len(time)):
        if event[i]:
            risk = [j for j in range(len(time)) if time[j] >= time[i]]
            total += x[i] @ beta - np.log(sum(np.exp(x[j] @ beta) for j in risk))
    return total


def test_km_curve_by_hand() -> None:
    times, surv = km_curve(TIMES, EVENTS)
    np.testing.assert_allclose(times, [1, 2, 3, 5])
    np.testing.assert_allclose(surv, [5 / 6, 5 / 6 * 4 / 5, 5 / 6 * 4 / 5 * 2 / 3, 0.0])


@pytest.mark.parametrize(
    ("t", "expected"),
    [(0.5, 1.0), (1.0, 5 / 6), (2.5, 4 / 6), (3.0, 4 / 9), (4.9, 4 / 9), (5.0, 0.0)],
)
def test_km_survival_at(t: float, expected: float) -> None:
    assert km_survival_at(TIMES, EVENTS, t) == pytest.approx(expected)


def test_km_median_and_not_reached() -> None:
    assert km_median(TIMES, EVENTS) == 3.0
    assert km_median([1, 2, 3, 4], [1, 0, 0, 0]) == float("inf")


def test_cox_matches_brute_force_partial_likelihood() -> None:
    rng = np.random.default_rng(3)
    n = 40
    x = np.column_stack([rng.normal(size=n), rng.integers(0, 2, size=n)])
    time = np.round(rng.exponential(10 / np.exp(0.7 * x[:, 0] + 0.5 * x[:, 1])))  # rounding makes ties
    event = rng.random(n) < 0.8
    fit = fit_cox(time, event, x)
    assert fit.converged
    # The fitted coefficients maximise the brute-force likelihood on a fine local grid.
    best = _brute_loglik(time, event, x, fit.coef)
    assert fit.log_likelihood == pytest.approx(best, rel=1e-10)
    for d0, d1 in itertools.product([-1e-3, 0, 1e-3], repeat=2):
        assert _brute_loglik(time, event, x, fit.coef + np.array([d0, d1])) <= best + 1e-12
    # Standard errors agree with a finite-difference Hessian of the brute-force likelihood.
    h = 1e-4
    hess = np.empty((2, 2))
    for a, b in itertools.product(range(2), repeat=2):
        ea, eb = np.eye(2)[a] * h, np.eye(2)[b] * h
        f = lambda v: _brute_loglik(time, event, x, fit.coef + v)  # noqa: E731
        hess[a, b] = (f(ea + eb) - f(ea - eb) - f(eb - ea) + f(-ea - eb)) / (4 * h * h)
    np.testing.assert_allclose(fit.se, np.sqrt(np.diag(np.linalg.inv(-hess))), rtol=1e-3)


def test_cox_matches_hand_written_score() -> None:
    # x=1 fails at t=1, x=0 at t=2, x=1 at t=3, x=0 censored at t=4. Risk sets give
    # L(b) = e^b/(2e^b+2) * 1/(e^b+2) * e^b/(e^b+1); the root of its score is found by bisection.
    time, event, x = [1, 2, 3, 4], [1, 1, 1, 0], [1, 0, 1, 0]

    def score(b: float) -> float:
        eb = np.exp(b)
        return 1 - eb / (eb + 1) - eb / (eb + 2) + 1 - eb / (eb + 1)

    lo, hi = -5.0, 5.0
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if score(mid) > 0 else (lo, mid)
    fit = fit_cox(time, event, x)
    assert fit.coef[0] == pytest.approx(lo, abs=1e-8)
    assert cox_partial_loglik(time, event, x, fit.coef) == pytest.approx(fit.log_likelihood)


def test_cox_recovers_known_hazard_ratio() -> None:
    rng = np.random.default_rng(11)
    n = 20_000
    group = rng.integers(0, 2, size=n)
    time = rng.exponential(1 / np.exp(np.log(2.0) * group))
    censor = rng.exponential(2.0, size=n)
    fit = fit_cox(np.minimum(time, censor), time <= censor, group)
    assert fit.lo[0] < 2.0 < fit.hi[0]
    assert fit.hr[0] == pytest.approx(2.0, rel=0.05)


def test_cox_rejects_no_events() -> None:
    with pytest.raises(ValueError, match="no events"):
        fit_cox([1, 2], [0, 0], [0, 1])


def test_cumulative_incidence_by_hand() -> None:
    # times 1..5; cause 1 at t=1, cause 2 at t=2, censored at 3, cause 1 at 4, censored at 5.
    time, cause = [1, 2, 3, 4, 5], [1, 2, 0, 1, 0]
    # AJ: t=1: 1/5 -> S=4/5; t=2: cause 2 -> S=3/5; t=4: S(4-)=3/5, 1 of 2 at risk -> +3/10.
    assert cumulative_incidence_at(time, cause, 1, k=1) == pytest.approx(0.2)
    assert cumulative_incidence_at(time, cause, 10, k=1) == pytest.approx(0.2 + 0.3)
    assert cumulative_incidence_at(time, cause, 10, k=2) == pytest.approx(0.2)
    # Without competing events it equals 1 - KM.
    assert cumulative_incidence_at(TIMES, EVENTS, 3) == pytest.approx(1 - km_survival_at(TIMES, EVENTS, 3))
