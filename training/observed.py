"""What actually happened, estimated properly under censoring (scikit-survival's estimators).

Kaplan-Meier risk with confidence intervals, Aalen-Johansen cumulative incidence of progression and of death
without progression, reverse Kaplan-Meier follow-up, and calibration tables that put predicted risk beside
observed risk.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

CAUSES = {1: "progression", 2: "death without progression"}


def km_risk(time: np.ndarray, event: np.ndarray, horizon: float) -> tuple[float, float, float]:
    """Kaplan-Meier risk of the event by ``horizon`` with its log-log 95% CI.

    Returns:
        ``(risk, low, high)``; NaN when nobody is followed up to ``horizon`` or there are no patients.
    """
    from sksurv.nonparametric import kaplan_meier_estimator

    time, event = np.asarray(time, dtype=float), np.asarray(event, dtype=bool)
    if len(time) == 0 or time.max() < horizon:
        return float("nan"), float("nan"), float("nan")
    if not event.any():
        return 0.0, 0.0, float("nan")
    times, survival, ci = kaplan_meier_estimator(event, time, conf_type="log-log")
    k = np.searchsorted(times, horizon, side="right") - 1
    if k < 0:
        return 0.0, 0.0, 0.0
    return float(1 - survival[k]), float(1 - ci[1, k]), float(1 - ci[0, k])


def cumulative_incidence(time: np.ndarray, cause: np.ndarray, horizons: Sequence[float]) -> pd.DataFrame:
    """Aalen-Johansen cumulative incidence of each cause at each horizon (with 95% CI).

    Args:
        time: follow-up times.
        cause: 0 censored, 1 progression, 2 death without progression.
        horizons: days at which to read the curves.

    Returns:
        One row per (cause, horizon): ``cause``, ``horizon_days``, ``incidence``, ``low``, ``high``.
    """
    from sksurv.nonparametric import cumulative_incidence_competing_risks

    cause = np.asarray(cause, dtype=int)
    present = [k for k in CAUSES if (cause == k).any()]
    rows = []
    if present == list(CAUSES):
        times, incidence, ci = cumulative_incidence_competing_risks(
            cause, np.asarray(time, dtype=float), conf_type="log-log"
        )
        for k in present:
            for h in horizons:
                j = np.searchsorted(times, h, side="right") - 1
                value = (0.0, 0.0, 0.0) if j < 0 else (incidence[k, j], ci[k, 0, j], ci[k, 1, j])
                rows.append(
                    {
                        "cause": CAUSES[k],
                        "horizon_days": int(h),
                        "incidence": float(value[0]),
                        "low": float(value[1]),
                        "high": float(value[2]),
                    }
                )
    return pd.DataFrame(rows, columns=["cause", "horizon_days", "incidence", "low", "high"])


def median_follow_up(time: np.ndarray, event: np.ndarray) -> float:
    """Median follow-up by the reverse Kaplan-Meier method (censoring treated as the event)."""
    from sksurv.nonparametric import kaplan_meier_estimator

    times, survival = kaplan_meier_estimator(
        np.asarray(event, dtype=bool), np.asarray(time, dtype=float), reverse=True
    )
    below = np.flatnonzero(survival <= 0.5)
    return float(times[below[0]]) if len(below) else float("nan")


def calibration_table(
    time: np.ndarray, event: np.ndarray, risk: np.ndarray, *, horizon: float, groups: int
) -> pd.DataFrame:
    """Predicted vs Kaplan-Meier observed risk by ``horizon``, in groups of equal size by predicted risk.

    Returns:
        One row per group: ``group``, ``n``, ``mean_predicted``, ``observed``, ``observed_low``,
        ``observed_high``.
    """
    order = np.argsort(risk, kind="stable")
    rows = []
    for g, members in enumerate(np.array_split(order, groups), start=1):
        observed = km_risk(time[members], event[members], horizon)
        rows.append(
            {
                "group": g,
                "n": len(members),
                "mean_predicted": float(np.mean(risk[members])),
                "observed": observed[0],
                "observed_low": observed[1],
                "observed_high": observed[2],
            }
        )
    return pd.DataFrame(rows)


def risk_group_table(
    time: np.ndarray,
    event: np.ndarray,
    cause: np.ndarray,
    group: np.ndarray,
    *,
    levels: Sequence[str],
    horizons: Sequence[float],
    headline: float,
) -> pd.DataFrame:
    """Observed outcome per risk group.

    Size, observed Kaplan-Meier risk at ``headline`` with CI, and the cumulative incidence of progression and
    of death without progression at each horizon.
    """
    rows = []
    for level in ("all", *levels):
        members = np.ones(len(time), dtype=bool) if level == "all" else group == level
        observed = km_risk(time[members], event[members], headline)
        row = {
            "risk_group": level,
            "n": int(members.sum()),
            "events": int(event[members].sum()),
            f"observed_risk_{int(headline)}": observed[0],
            "low": observed[1],
            "high": observed[2],
        }
        incidence = cumulative_incidence(time[members], cause[members], horizons)
        for item in incidence.itertuples():
            key = "progression" if item.cause == CAUSES[1] else "death_no_progression"
            row[f"{key}_{item.horizon_days}"] = item.incidence
        rows.append(row)
    return pd.DataFrame(rows)
