"""Conversion to the catalogue's canonical units: the one rounding rule of the project.

A value sent in another accepted unit is multiplied by the catalogue's factor and rounded to
:data:`SIGNIFICANT_DIGITS` significant digits, so that 12 mg/L of CRP is 1.2 mg/dL rather than
1.2000000000000002 wherever it enters: ingest applies it in SQL (:data:`ROUND_SIG_SQL`, over whole
tables), the API in Python (:func:`to_canonical`, one value at a time). ``tests/features/test_units.py``
checks that both give the same numbers.
"""

from __future__ import annotations

import math

SIGNIFICANT_DIGITS = 12
_LARGEST_POWER = 308
"""10**308 is the largest power of ten a double holds."""

ROUND_SIG_SQL = f"""CREATE OR REPLACE TEMP MACRO round_sig(x) AS
    CASE WHEN x = 0 OR NOT isfinite(x) THEN x
         ELSE round(x, CAST({SIGNIFICANT_DIGITS} - 1 - floor(log10(abs(x))) AS INTEGER)) END;"""
"""The SQL macro ingest uses: ``round_sig(x)`` rounds ``x`` to :data:`SIGNIFICANT_DIGITS` digits."""


def round_significant(value: float) -> float:
    """``value`` rounded to :data:`SIGNIFICANT_DIGITS` significant digits (0 and non-finite unchanged).

    The arithmetic is DuckDB's ``round(DOUBLE, INTEGER)`` step by step (scale by a power of ten, round
    half away from zero, scale back), so that ingest's SQL and this function agree on every double.
    Python's ``round`` rounds the exact binary value half to even instead and disagrees with DuckDB
    on values whose 13th significant digit is a 5 (hypothesis found 6.103515625e-05 x 1.6114).
    """
    if value == 0.0 or not math.isfinite(value):
        return value
    digits = SIGNIFICANT_DIGITS - 1 - math.floor(math.log10(abs(value)))
    if abs(digits) > _LARGEST_POWER:  # subnormal values: 10**digits is not a double, DuckDB keeps the input
        return value
    modifier = 10.0 ** abs(digits)
    scaled = value * modifier if digits >= 0 else value / modifier
    if not math.isfinite(scaled):
        return value
    whole = _half_away_from_zero(scaled)
    rounded = whole / modifier if digits >= 0 else whole * modifier
    return rounded if math.isfinite(rounded) else value


def _half_away_from_zero(value: float) -> float:
    """C's ``round``: the nearest whole number, halves away from zero (exact for every double)."""
    magnitude = abs(value)
    whole = math.floor(magnitude)
    if magnitude - whole >= 0.5:
        whole += 1
    return math.copysign(whole, value)


def to_canonical(number: float, factor: float) -> float:
    """``number`` given in a unit whose factor to the canonical unit is ``factor``, in the canonical unit."""
    return number if factor == 1.0 else round_significant(number * factor)
