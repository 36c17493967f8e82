"""Small survival-analysis toolkit in pure numpy: Kaplan-Meier and a Cox proportional-hazards fit.

Used to check the synthetic generator against published anchors and by the training evaluation.
Times are any non-negative numbers (days in this project); ``event`` is 1 for an observed event
and 0 for a censored time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

_Z95 = 1.959963984540054


@dataclass(frozen=True)
class CoxResult:
    """A fitted Cox model.

    Attributes:
        coef: log hazard ratios, one per column of ``X``.
        se: Wald standard errors of ``coef``.
        hr: hazard ratios ``exp(coef)``.
        lo: lower 95% Wald confidence limits of ``hr``.
        hi: upper 95% Wald confidence limits of ``hr``.
        log_likelihood: Breslow log partial likelihood at ``coef``.
        n: number of observations used.
        n_events: number of events.
        converged: whether Newton-Raphson met the tolerance.
    """

    coef: NDArray[np.float64]
    se: NDArray[np.float64]
    hr: NDArray[np.float64]
    lo: NDArray[np.float64]
    hi: NDArray[np.float64]
    log_likelihood: float
    n: int
    n_events: int
    converged: bool


def fit_cox(
    time: ArrayLike, event: ArrayLike, X: ArrayLike, *, max_iter: int = 50, tol: float = 1e-9
) -> CoxResult:
    """Fit a Cox proportional-hazards model by Newton-Raphson (Breslow ties, Wald CI).

    Args:
        time: follow-up times, shape (n,).
        event: 1 if the time is an event, 0 if censored, shape (n,).
        X: covariates, shape (n,) or (n, p); no intercept.
        max_iter: maximum Newton steps.
        tol: convergence tolerance on the largest absolute step.

    Returns:
        The fit, with hazard ratios and 95% Wald intervals per covariate.
    """
    t, d, x = _prepare(time, event, X)
    beta = np.zeros(x.shape[1])
    converged = False
    loglik, grad, hess = _breslow(t, d, x, beta)
    for _ in range(max_iter):
        step = np.linalg.solve(hess, grad)
        new_beta = beta + step
        new_loglik, new_grad, new_hess = _breslow(t, d, x, new_beta)
        while new_loglik < loglik - 1e-12 and np.max(np.abs(step)) > tol:
            step /= 2.0
            new_beta = beta + step
            new_loglik, new_grad, new_hess = _breslow(t, d, x, new_beta)
        beta, loglik, grad, hess = new_beta, new_loglik, new_grad, new_hess
        if np.max(np.abs(step)) < tol:
            converged = True
            break
    se = np.sqrt(np.diag(np.linalg.inv(hess)))
    return CoxResult(
        coef=beta, se=se, hr=np.exp(beta), lo=np.exp(beta - _Z95 * se), hi=np.exp(beta + _Z95 * se),
        log_likelihood=float(loglik), n=len(t), n_events=int(d.sum()), converged=converged,
    )


def cox_partial_loglik(time: ArrayLike, event: ArrayLike, X: ArrayLike, beta: ArrayLike) -> float:
    """Breslow log partial likelihood at ``beta``.

    Args:
        time: follow-up times.
        event: event indicators.
        X: covariates, shape (n,) or (n, p).
        beta: coefficients, shape (p,).

    Returns:
        The log partial likelihood.
    """
    t, d, x = _prepare(time, event, X)
    return float(_breslow(t, d, x, np.atleast_1d(np.asarray(beta, dtype=float)))[0])


def km_curve(time: ArrayLike, event: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Kaplan-Meier survival curve.

    Args:
        time: follow-up times.
        event: event indicators.

    Returns:
        ``(times, survival)``: the distinct event times and the survival just after each.
    """
    t = np.asarray(time, dtype=float)
    d = np.asarray(event, dtype=float)
    order = np.argsort(t, kind="stable")
    t, d = t[order], d[order]
    uniq, first = np.unique(t, return_index=True)
    deaths = np.add.reduceat(d, first) if len(t) else np.array([])
    at_risk = len(t) - first
    keep = deaths > 0
    surv = np.cumprod(1.0 - deaths[keep] / at_risk[keep])
    return uniq[keep], surv


def km_survival_at(time: ArrayLike, event: ArrayLike, t: float) -> float:
    """Kaplan-Meier survival probability at time ``t`` (events at ``t`` included).

    Args:
        time: follow-up times.
        event: event indicators.
        t: the time at which to read the curve.

    Returns:
        S(t); 1.0 before the first event.
    """
    times, surv = km_curve(time, event)
    idx = np.searchsorted(times, t, side="right") - 1
    return 1.0 if idx < 0 else float(surv[idx])


def km_median(time: ArrayLike, event: ArrayLike) -> float:
    """Kaplan-Meier median: the first time at which survival falls to 0.5 or below.

    Args:
        time: follow-up times.
        event: event indicators.

    Returns:
        The median survival time, or ``inf`` if the curve never reaches 0.5 (not reached).
    """
    times, surv = km_curve(time, event)
    below = np.nonzero(surv <= 0.5)[0]
    return float(times[below[0]]) if len(below) else float("inf")


def _prepare(
    time: ArrayLike, event: ArrayLike, X: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Validate inputs and sort by time ascending."""
    t = np.asarray(time, dtype=float)
    d = np.asarray(event, dtype=float)
    x = np.asarray(X, dtype=float)
    x = x.reshape(-1, 1) if x.ndim == 1 else x
    if not (len(t) == len(d) == len(x)):
        raise ValueError(f"time, event and X lengths differ: {len(t)}, {len(d)}, {len(x)}")
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(x))):
        raise ValueError("time and X must be finite")
    if d.sum() == 0:
        raise ValueError("no events: the Cox model is not identifiable")
    order = np.argsort(t, kind="stable")
    return t[order], d[order], x[order]


def _breslow(
    t: NDArray[np.float64], d: NDArray[np.float64], x: NDArray[np.float64], beta: NDArray[np.float64]
) -> tuple[float, NDArray[np.float64], NDArray[np.float64]]:
    """Breslow log partial likelihood, gradient and negative Hessian (data sorted by time)."""
    eta = x @ beta
    shift = eta.max()
    w = np.exp(eta - shift)
    s0 = np.cumsum(w[::-1])[::-1]
    s1 = np.cumsum((w[:, None] * x)[::-1], axis=0)[::-1]
    s2 = np.cumsum((w[:, None, None] * x[:, :, None] * x[:, None, :])[::-1], axis=0)[::-1]
    _, first = np.unique(t, return_index=True)
    d_tie = np.add.reduceat(d, first)
    has = d_tie > 0
    first, d_tie = first[has], d_tie[has]
    r0, r1, r2 = s0[first], s1[first], s2[first]
    mean = r1 / r0[:, None]
    loglik = float(np.sum(d * eta) - np.sum(d_tie * (np.log(r0) + shift)))
    grad = (d[:, None] * x).sum(axis=0) - (d_tie[:, None] * mean).sum(axis=0)
    cov = r2 / r0[:, None, None] - mean[:, :, None] * mean[:, None, :]
    hess = (d_tie[:, None, None] * cov).sum(axis=0)
    return loglik, grad, hess


def cumulative_incidence_at(time: ArrayLike, cause: ArrayLike, t: float, k: int = 1) -> float:
    """Aalen-Johansen cumulative incidence of cause ``k`` by time ``t`` under competing risks.

    Args:
        time: follow-up times.
        cause: 0 for censored, otherwise the cause of the event (1, 2, ...).
        t: the time at which to read the curve.
        k: the cause of interest.

    Returns:
        The probability of failing from cause ``k`` by ``t``.
    """
    tt = np.asarray(time, dtype=float)
    c = np.asarray(cause)
    order = np.argsort(tt, kind="stable")
    tt, c = tt[order], c[order]
    uniq, first = np.unique(tt, return_index=True)
    at_risk = len(tt) - first
    d_all = np.add.reduceat((c != 0).astype(float), first)
    d_k = np.add.reduceat((c == k).astype(float), first)
    surv_before = np.concatenate([[1.0], np.cumprod(1.0 - d_all / at_risk)[:-1]])
    keep = uniq <= t
    return float(np.sum(surv_before[keep] * d_k[keep] / at_risk[keep]))
