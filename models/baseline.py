"""Breslow baseline cumulative hazard of a Cox model, and the absolute risk it implies.

A Cox model (linear or XGBoost ``survival:cox``) only learns relative hazards: its margin is the
log relative hazard. Absolute risk by time ``t`` needs the baseline cumulative hazard ``H0``,
estimated on the training data by Breslow's estimator:

    H0(t) = sum over distinct event times t_k <= t of  d_k / sum_{j: T_j >= t_k} exp(margin_j)

and then ``risk(t | x) = 1 - exp(-H0(t) * exp(margin(x)))``, non-decreasing in ``t`` and in the margin.

This module is kept in numpy (the packaged model needs it at prediction time and must stay light);
``tests/models/test_baseline.py`` checks it against scikit-survival's ``BreslowEstimator``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

MIN_TIME = 0.5
"""Days; a time of 0 (censored on the landmark day) is moved here so every time is positive."""


def survival_arrays(y: Any) -> tuple[NDArray[np.bool_], NDArray[np.float64]]:
    """``(event, time)`` from a survival target.

    Args:
        y: a structured array with a boolean event field first and a time field second (the
            scikit-survival convention), or a DataFrame / mapping with ``event`` and ``time``.

    Returns:
        Event indicators (bool) and times (float64, at least :data:`MIN_TIME`).

    Raises:
        ValueError: negative or non-finite times, or a target of another shape.
    """
    if isinstance(y, np.ndarray) and y.dtype.names and len(y.dtype.names) == 2:
        event, time = y[y.dtype.names[0]], y[y.dtype.names[1]]
    elif hasattr(y, "__getitem__") and not isinstance(y, np.ndarray):
        event, time = y["event"], y["time"]
    else:
        raise ValueError(
            "survival target must be a structured array (event, time) or have 'event' and 'time' columns"
        )
    event = np.asarray(event, dtype=bool)
    time = np.asarray(time, dtype=np.float64)
    if not np.all(np.isfinite(time)) or np.any(time < 0):
        raise ValueError("survival times must be finite and non-negative")
    return event, np.maximum(time, MIN_TIME)


def breslow_cumulative_hazard(
    time: ArrayLike, event: ArrayLike, margin: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Breslow's estimate of the baseline cumulative hazard at each distinct event time.

    Args:
        time: follow-up times of the training patients.
        event: 1/True for an observed event, 0/False for censoring.
        margin: the fitted model's log relative hazard of each training patient.

    Returns:
        ``(event_times, cumulative_hazard)``, both increasing; ``H0`` is 0 before the first event time.
    """
    t = np.asarray(time, dtype=np.float64)
    d = np.asarray(event, dtype=np.float64)
    m = np.asarray(margin, dtype=np.float64)
    shift = float(m.max()) if len(m) else 0.0
    order = np.argsort(t, kind="stable")
    t, d, w = t[order], d[order], np.exp(m[order] - shift)
    unique, first = np.unique(t, return_index=True)
    at_risk = np.cumsum(w[::-1])[::-1][first]
    deaths = np.add.reduceat(d, first) if len(t) else np.array([])
    keep = deaths > 0
    hazard = deaths[keep] / at_risk[keep] * np.exp(-shift)
    return unique[keep], np.cumsum(hazard)


def cumulative_hazard_at(
    event_times: ArrayLike, cumulative_hazard: ArrayLike, at: ArrayLike
) -> NDArray[np.float64]:
    """The step function ``H0`` read at times ``at`` (right-continuous: events at ``t`` included)."""
    times = np.asarray(event_times, dtype=np.float64)
    values = np.concatenate([[0.0], np.asarray(cumulative_hazard, dtype=np.float64)])
    return values[np.searchsorted(times, np.asarray(at, dtype=np.float64), side="right")]


def risk_from_margin(margin: ArrayLike, cumulative_hazard: ArrayLike) -> NDArray[np.float64]:
    """Absolute risk ``1 - exp(-H0(t) exp(margin))`` for every margin (rows) and ``H0(t)`` (columns)."""
    hazard = (
        np.exp(np.asarray(margin, dtype=np.float64))[:, None]
        * np.asarray(cumulative_hazard, dtype=np.float64)[None, :]
    )
    return -np.expm1(-hazard)
