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

ROUND_SIG_SQL = f"""CREATE OR REPLACE TEMP MACRO round_sig(x) AS
    CASE WHEN x = 0 OR NOT isfinite(x) THEN x
         ELSE round(x, CAST({SIGNIFICANT_DIGITS} - 1 - floor(log10(abs(x))) AS INTEGER)) END;"""
"""The SQL macro ingest uses: ``round_sig(x)`` rounds ``x`` to :data:`SIGNIFICANT_DIGITS` digits."""


def round_significant(value: float) -> float:
    """``value`` rounded to :data:`SIGNIFICANT_DIGITS` significant digits (0 and non-finite unchanged)."""
    if value == 0.0 or not math.isfinite(value):
        return value
    return round(value, SIGNIFICANT_DIGITS - 1 - math.floor(math.log10(abs(value))))


def to_canonical(number: float, factor: float) -> float:
    """``number`` given in a unit whose factor to the canonical unit is ``factor``, in the canonical unit."""
    return number if factor == 1.0 else round_significant(number * factor)
