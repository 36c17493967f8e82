"""models/drift_stats.py: PSI, binning, the chi-square test and the unit-factor check."""

from __future__ import annotations

import numpy as np
import pytest

from models.drift_stats import bin_counts, chi2_test, psi, unit_factor


def test_psi_and_bins():
    assert psi(np.array([10, 20, 30]), np.array([1, 2, 3])) == pytest.approx(0.0)
    expected = (0.2 - 0.5) * np.log(0.2 / 0.5) + (0.8 - 0.5) * np.log(0.8 / 0.5)
    assert psi(np.array([50, 50]), np.array([20, 80])) == pytest.approx(expected)
    assert psi(np.array([100, 0]), np.array([50, 50])) == pytest.approx(
        0.5 * np.log(0.5 / 1e-4) - 0.5 * np.log(0.5), rel=1e-3
    )
    assert list(bin_counts(np.array([0.0, 0.0, 1.0, 1.5, 3.0]), [0.0, 1.0, 2.0])) == [2, 1, 1, 1]


def test_chi2_handles_empty_sides_and_single_levels():
    assert chi2_test(np.array([5, 0]), np.array([0, 0])) == (None, None)
    assert chi2_test(np.array([5, 0]), np.array([7, 0])) == (0.0, 1.0)
    assert chi2_test(np.array([500, 500]), np.array([900, 100]))[1] < 1e-10


@pytest.mark.parametrize(
    ("ratio", "se", "expected"),
    [
        (10.4, 0.0, 10),
        (8.8, 0.0, 10),
        (7.0, 0.0, None),
        (7.0, 0.09, 10),
        (0.00105, 0.0, -1000),
        (1.1, 0.0, None),
        (3.0, 0.3, None),
        (6.0, 0.2, None),  # a median too noisy to tell 10x from 1x is no unit error
    ],
)
def test_unit_factor(ratio, se, expected):
    assert unit_factor(ratio, se=se) == expected
