"""Discrimination, calibration, concordance and clinical-utility metrics.

All take ``y_true`` (0/1) and ``y_prob`` (probabilities) as numpy arrays, as in scikit-learn.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata
from sklearn.metrics import average_precision_score

DECISION_THRESHOLDS = tuple(np.round(np.arange(0.20, 0.601, 0.05), 2))
_EPS = 1e-6


def auroc(y_true: np.ndarray, y_prob: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U with mid-ranks for ties)."""
    y_true = np.asarray(y_true, dtype=bool)
    n_pos, n_neg = y_true.sum(), (~y_true).sum()
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(y_prob)
    return float((ranks[y_true].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def bootstrap_auroc_ci(
    y_true: np.ndarray, y_prob: np.ndarray, *, n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the AUROC (patients resampled with replacement)."""
    rng = np.random.default_rng(seed)
    y_true, y_prob = np.asarray(y_true), np.asarray(y_prob)
    stats = np.array([auroc(y_true[idx], y_prob[idx]) for idx in rng.integers(0, len(y_true), (n_boot, len(y_true)))])
    alpha = (1 - level) / 2
    return float(np.nanquantile(stats, alpha)), float(np.nanquantile(stats, 1 - alpha))


def brier(y_true: np.ndarray, y_prob: np.ndarray) -> float:
    return float(np.mean((np.asarray(y_prob) - np.asarray(y_true)) ** 2))


def auprc(y_true: np.ndarray, y_prob: np.ndarray) -> float:
    return float(average_precision_score(y_true, y_prob))


def calibration(y_true: np.ndarray, y_prob: np.ndarray) -> tuple[float, float]:
    """Calibration intercept (in the large, slope fixed at 1) and slope, by logistic recalibration.

    Returns:
        ``(intercept, slope)``; a perfectly calibrated model gives ``(0, 1)``.
    """
    y = np.asarray(y_true, dtype=float)
    lp = _logit(np.asarray(y_prob, dtype=float))
    intercept = _fit_logistic(np.ones((len(y), 1)), y, offset=lp)[0]
    slope = _fit_logistic(np.column_stack([np.ones(len(y)), lp]), y)[1]
    return float(intercept), float(slope)


def harrell_c(time: np.ndarray, event: np.ndarray, risk: np.ndarray) -> float:
    """Harrell's concordance index: higher risk should mean an earlier event.

    A pair (i, j) is usable when ``time[i] < time[j]`` and ``i`` had the event; risk ties count 1/2.
    """
    time, event, risk = (np.asarray(a, dtype=float) for a in (time, event, risk))
    concordant = usable = 0.0
    for start in range(0, len(time), 2048):
        block = slice(start, start + 2048)
        ti, ei, ri = time[block, None], event[block, None], risk[block, None]
        pairs = (ti < time[None, :]) & (ei == 1)
        usable += pairs.sum()
        concordant += (pairs & (ri > risk[None, :])).sum() + 0.5 * (pairs & (ri == risk[None, :])).sum()
    return float(concordant / usable) if usable else float("nan")


def net_benefit(y_true: np.ndarray, y_prob: np.ndarray, threshold: float) -> float:
    """Decision-curve net benefit of treating patients with ``y_prob >= threshold``."""
    y = np.asarray(y_true, dtype=bool)
    treat = np.asarray(y_prob) >= threshold
    n = len(y)
    return float((treat & y).sum() / n - (treat & ~y).sum() / n * threshold / (1 - threshold))


def net_benefit_treat_all(y_true: np.ndarray, threshold: float) -> float:
    prevalence = float(np.mean(y_true))
    return prevalence - (1 - prevalence) * threshold / (1 - threshold)


def summarise(y_true: np.ndarray, y_prob: np.ndarray, *, seed: int = 0, n_boot: int = 1000) -> dict[str, float]:
    """The standard metric set of a binary prediction, as a flat dict for MLflow."""
    lo, hi = bootstrap_auroc_ci(y_true, y_prob, seed=seed, n_boot=n_boot)
    intercept, slope = calibration(y_true, y_prob)
    metrics = {
        "n": float(len(y_true)), "events": float(np.sum(y_true)),
        "auroc": auroc(y_true, y_prob), "auroc_lo": lo, "auroc_hi": hi,
        "auprc": auprc(y_true, y_prob), "brier": brier(y_true, y_prob),
        "cal_intercept": intercept, "cal_slope": slope,
    }
    for t in DECISION_THRESHOLDS:
        metrics[f"net_benefit_{t:.2f}"] = net_benefit(y_true, y_prob, t)
        metrics[f"net_benefit_all_{t:.2f}"] = net_benefit_treat_all(y_true, t)
    return metrics


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


def _fit_logistic(X: np.ndarray, y: np.ndarray, offset: np.ndarray | None = None, iters: int = 50) -> np.ndarray:
    """Unpenalised logistic regression by Newton-Raphson (small designs only)."""
    beta = np.zeros(X.shape[1])
    offset = np.zeros(len(y)) if offset is None else offset
    for _ in range(iters):
        p = 1 / (1 + np.exp(-(X @ beta + offset)))
        w = p * (1 - p)
        step = np.linalg.solve(X.T @ (X * w[:, None]) + 1e-9 * np.eye(X.shape[1]), X.T @ (y - p))
        beta += step
        if np.max(np.abs(step)) < 1e-10:
            break
    return beta
