"""Absolute risk from a scikit-survival model's step survival function (linear and score Cox models)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def risk_from_step_survival(
    survival: np.ndarray, unique_times: np.ndarray, times: Sequence[float]
) -> np.ndarray:
    """``1 - S(t)`` at each of ``times`` from survival values tabulated at ``unique_times``.

    Args:
        survival: (n, m) survival probabilities at ``unique_times`` (a right-continuous step function).
        unique_times: the m increasing times of the table.
        times: the times to read.

    Returns:
        (n, len(times)) risks; 0 before the first tabulated time, the last value after the last one.
    """
    index = np.searchsorted(unique_times, np.asarray(times, dtype=float), side="right") - 1
    out = np.ones((survival.shape[0], len(index)))
    valid = index >= 0
    out[:, valid] = survival[:, index[valid]]
    return 1.0 - out
