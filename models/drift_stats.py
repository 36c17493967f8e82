"""The statistics behind the drift report: PSI, two-sample tests, missingness, unit factors.

Pure functions on numpy arrays; scipy supplies the tests (``ks_2samp``, ``chi2_contingency``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from scipy import stats

PSI_EPSILON = 1e-4
"""Shares are clipped to this before the PSI's logarithm (an empty bin would give infinity)."""
UNIT_FACTORS = (1, 2, 3)
"""Powers of ten checked for a unit mix-up: 10x, 100x, 1000x and their inverses."""
UNIT_TOLERANCE = math.log10(1.15)
"""A median ratio within 15% of a power of ten counts as a unit factor (wider when the medians are noisy)."""
UNIT_MAX_TOLERANCE = math.log10(2.0)
UNIT_MIN_Z = 4.0
"""The ratio must also be this many standard errors away from 1 (no change): a median too noisy to tell
10x from 1x (e.g. ctDNA at a small centre) is never called a unit error."""
BOOTSTRAP_ROUNDS = 200


def bin_counts(values: np.ndarray, edges: Sequence[float] | NDArray[np.float64]) -> np.ndarray:
    """Counts of non-missing ``values`` in the right-closed bins ``(-inf, e1], (e1, e2], ..., (ek, inf)``.

    Args:
        values: numbers without NaN.
        edges: increasing, unique bin edges.

    Returns:
        ``len(edges) + 1`` counts.
    """
    index = np.searchsorted(np.asarray(edges, dtype=float), values, side="left")
    return np.bincount(index, minlength=len(edges) + 1)


def psi(reference: np.ndarray, batch: np.ndarray, *, epsilon: float = PSI_EPSILON) -> float:
    """Population stability index ``sum((b - r) * ln(b / r))`` of two count (or share) vectors.

    Args:
        reference: counts per bin of the reference (missing values as one more bin).
        batch: counts per bin of the batch, same bins.
        epsilon: shares are clipped to at least this.

    Returns:
        The PSI (0 when both distributions agree; 0.1 moderate, 0.25 large by convention).
    """
    r = np.clip(_shares(reference), epsilon, None)
    b = np.clip(_shares(batch), epsilon, None)
    return float(np.sum((b - r) * np.log(b / r)))


def ks_test(reference_sample: np.ndarray, batch: np.ndarray) -> tuple[float | None, float | None]:
    """Two-sample Kolmogorov-Smirnov (statistic, p-value); ``(None, None)`` when a side is empty."""
    if len(reference_sample) == 0 or len(batch) == 0:
        return None, None
    result = stats.ks_2samp(batch, reference_sample)
    return float(result.statistic), float(result.pvalue)


def chi2_test(reference_counts: np.ndarray, batch_counts: np.ndarray) -> tuple[float | None, float | None]:
    """Chi-square test of homogeneity on two count vectors over the same categories.

    Categories empty on both sides are dropped; a single remaining category gives ``(0.0, 1.0)``.

    Returns:
        (statistic, p-value), or ``(None, None)`` when either side has no observation.
    """
    table = np.vstack([np.asarray(reference_counts, float), np.asarray(batch_counts, float)])
    if table[0].sum() == 0 or table[1].sum() == 0:
        return None, None
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return 0.0, 1.0
    statistic, p_value, _, _ = stats.chi2_contingency(table, correction=table.shape[1] == 2)
    return float(statistic), float(p_value)


def missing_test(reference_missing: int, reference_n: int, batch_missing: int, batch_n: int) -> float | None:
    """p-value of a chi-square test that the missing share is the same in both (None without rows)."""
    if reference_n == 0 or batch_n == 0:
        return None
    _, p_value = chi2_test(
        np.array([reference_missing, reference_n - reference_missing]),
        np.array([batch_missing, batch_n - batch_missing]),
    )
    return p_value


def log10_median_se(values: np.ndarray, *, seed: int = 0) -> float:
    """Bootstrap standard error of ``log10(median(values))`` (values positive; deterministic by ``seed``)."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(values), size=(BOOTSTRAP_ROUNDS, len(values)))
    medians = np.median(values[draws], axis=1)
    medians = medians[medians > 0]
    return float(np.std(np.log10(medians))) if len(medians) > 1 else 0.0


def unit_factor(ratio: float, *, se: float = 0.0) -> int | None:
    """The power of ten a median ratio sits on (e.g. 10 for ~10x, -100 for ~1/100x), else None.

    Args:
        ratio: batch median / reference median (positive).
        se: standard error of ``log10(ratio)``: the tolerance is ``max(15%, 2 se)`` (at most 2x) and
            the ratio must be at least ``UNIT_MIN_Z`` standard errors away from 1.

    Returns:
        ``+-10``, ``+-100`` or ``+-1000`` (negative for an inverse factor), or None.
    """
    if not (ratio > 0 and math.isfinite(ratio)):
        return None
    shift = math.log10(ratio)
    power = round(shift)
    tolerance = min(max(UNIT_TOLERANCE, 2 * se), UNIT_MAX_TOLERANCE)
    if abs(power) not in UNIT_FACTORS or abs(shift - power) > tolerance or abs(shift) < UNIT_MIN_Z * se:
        return None
    return int(math.copysign(10 ** abs(power), power))


def _shares(counts: np.ndarray) -> np.ndarray:
    counts = np.asarray(counts, dtype=float)
    total = counts.sum()
    return counts / total if total > 0 else counts
