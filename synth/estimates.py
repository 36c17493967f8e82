"""Survival and rank statistics for the calibration checks, from well-kept libraries.

Kaplan-Meier, Cox (Efron ties, Wald 95% CI) and Aalen-Johansen come from lifelines; Spearman's
rho from scipy. The synthetic generator checks itself with these and never imports the project's
model or training code.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

HrEstimate = tuple[float, float, float]  # hazard ratio, 95% CI low, 95% CI high


def km_survival_at(time: ArrayLike, event: ArrayLike, at: float) -> float:
    """Kaplan-Meier survival S(at) (NaN when there is nobody to estimate from).

    Args:
        time: follow-up times.
        event: 1 for an event, 0 for censored.
        at: the time at which to read the curve.

    Returns:
        The estimate.
    """
    from lifelines import KaplanMeierFitter

    time, event = np.asarray(time, dtype=float), np.asarray(event, dtype=int)
    if len(time) == 0:
        return float("nan")
    km = KaplanMeierFitter().fit(time, event)
    return float(km.survival_function_at_times(at).iloc[0])


def km_median(time: ArrayLike, event: ArrayLike) -> float:
    """Kaplan-Meier median time (inf if the curve never reaches 0.5, NaN for no data).

    Args:
        time: follow-up times.
        event: 1 for an event, 0 for censored.

    Returns:
        The median, in the unit of ``time``.
    """
    from lifelines import KaplanMeierFitter

    time, event = np.asarray(time, dtype=float), np.asarray(event, dtype=int)
    if len(time) == 0:
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lifelines warns that the median is read off the step function
        return float(KaplanMeierFitter().fit(time, event).median_survival_time_)


def cox_hr(time: ArrayLike, event: ArrayLike, x: ArrayLike) -> HrEstimate:
    """Univariable Cox hazard ratio of ``x`` with its Wald 95% CI (Efron ties).

    Args:
        time: follow-up times.
        event: 1 for an event, 0 for censored.
        x: one covariate per subject.

    Returns:
        (HR, CI low, CI high).
    """
    fit = cox_fit(pd.DataFrame({"time": time, "event": event, "x": x}))
    row = fit.loc["x"]
    return float(row["hr"]), float(row["lo"]), float(row["hi"])


def cox_fit(data: pd.DataFrame) -> pd.DataFrame:
    """Multivariable Cox model on every column of ``data`` other than ``time`` and ``event``.

    Args:
        data: ``time``, ``event`` and numeric covariates (no missing values).

    Returns:
        Frame indexed by covariate with ``coef``, ``se``, ``hr``, ``lo``, ``hi`` (Wald 95%).
    """
    from lifelines import CoxPHFitter

    fit = CoxPHFitter().fit(data.astype(float), duration_col="time", event_col="event")
    s = fit.summary
    return pd.DataFrame(
        {
            "coef": s["coef"],
            "se": s["se(coef)"],
            "hr": s["exp(coef)"],
            "lo": s["exp(coef) lower 95%"],
            "hi": s["exp(coef) upper 95%"],
        }
    )


def cumulative_incidence_at(time: ArrayLike, cause: ArrayLike, at: float, *, k: int) -> float:
    """Aalen-Johansen cumulative incidence of cause ``k`` by ``at`` (other causes compete).

    lifelines breaks tied event times by a tiny seeded jitter (1e-4 of a day here), which does not
    move the estimate at a whole-day time.

    Args:
        time: follow-up times.
        cause: 0 censored, otherwise the cause of the event.
        at: the time at which to read the curve.
        k: the cause of interest.

    Returns:
        The estimate (NaN for no data).
    """
    from lifelines import AalenJohansenFitter

    time, cause = np.asarray(time, dtype=float), np.asarray(cause, dtype=int)
    if len(time) == 0:
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tie-jitter warning
        aj = AalenJohansenFitter(calculate_variance=False, seed=0).fit(time, cause, event_of_interest=k)
    curve = aj.cumulative_density_.iloc[:, 0]
    return float(curve.loc[:at].iloc[-1]) if (curve.index <= at).any() else 0.0


def spearman(x: ArrayLike, y: ArrayLike) -> float:
    """Spearman's rank correlation (ties get average ranks).

    Args:
        x: first variable.
        y: second variable, same length.

    Returns:
        rho (NaN for fewer than 3 pairs).
    """
    from scipy.stats import spearmanr

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) < 3:
        return float("nan")
    return float(spearmanr(x, y).statistic)
