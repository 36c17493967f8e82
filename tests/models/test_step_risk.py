"""models/step_risk.py: absolute risk read from a tabulated step survival function."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from models.step_risk import risk_from_step_survival

UNIQUE_TIMES = np.array([10.0, 50.0, 200.0])
SURVIVAL = np.array([[0.9, 0.7, 0.4], [1.0, 0.95, 0.95]])


@pytest.mark.parametrize(
    ("time", "expected"),
    [
        (5.0, [0.0, 0.0]),  # before the first tabulated time: nobody has failed
        (10.0, [0.1, 0.0]),  # right-continuous: the step at 10 counts at 10
        (49.9, [0.1, 0.0]),
        (50.0, [0.3, 0.05]),
        (199.0, [0.3, 0.05]),
        (365.0, [0.6, 0.05]),  # after the last time: the last value
    ],
)
def test_reads_the_step_function_right_continuously(time, expected):
    np.testing.assert_allclose(risk_from_step_survival(SURVIVAL, UNIQUE_TIMES, [time])[:, 0], expected)


def test_one_column_per_requested_time_in_the_requested_order():
    risk = risk_from_step_survival(SURVIVAL, UNIQUE_TIMES, [365, 5, 50])
    assert risk.shape == (2, 3)
    np.testing.assert_allclose(risk[0], [0.6, 0.0, 0.3])


def test_no_patients_gives_no_rows():
    assert risk_from_step_survival(np.empty((0, 3)), UNIQUE_TIMES, [10, 50]).shape == (0, 2)


@settings(max_examples=60, deadline=None)
@given(
    steps=arrays(np.float64, (4, 6), elements=st.floats(0.0, 0.5)),
    times=st.lists(st.floats(0.0, 1000.0), min_size=1, max_size=8),
)
def test_risk_is_a_probability_non_decreasing_in_time(steps, times):
    survival = np.exp(-np.cumsum(steps, axis=1))  # non-increasing survival in (0, 1]
    unique_times = np.array([7.0, 30.0, 90.0, 180.0, 365.0, 730.0])
    ordered = sorted(times)
    risk = risk_from_step_survival(survival, unique_times, ordered)
    assert ((risk >= 0) & (risk <= 1)).all()
    assert (np.diff(risk, axis=1) >= -1e-12).all()
