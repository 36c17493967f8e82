"""The one rounding rule: ingest's SQL macro and the API's Python give the same canonical numbers."""

from __future__ import annotations

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from features.units import ROUND_SIG_SQL, round_significant, to_canonical

FACTORS = (0.1, 0.011312, 0.05848, 60.0, 1000.0, 1.6114, 0.001)


MEASUREMENT = st.floats(allow_nan=False, allow_infinity=False)
"""Every finite double, subnormal and huge ones included: the rule agrees (and does not raise) on all."""


@settings(max_examples=300, deadline=None)
@given(st.lists(MEASUREMENT, min_size=1, max_size=20), st.sampled_from(FACTORS))
def test_sql_and_python_round_the_same(numbers, factor):
    with duckdb.connect() as con:
        con.execute(ROUND_SIG_SQL)
        query = (
            "SELECT round_sig(x * ?) FROM "
            "(SELECT unnest(?::DOUBLE[]) AS x, generate_subscripts(?::DOUBLE[], 1) AS i) ORDER BY i"
        )
        sql = [row[0] for row in con.execute(query, [factor, numbers, numbers]).fetchall()]
    assert sql == [to_canonical(n, factor) for n in numbers]


def test_conversion_keeps_the_value_a_person_would_write():
    assert to_canonical(12.0, 0.1) == 1.2 and 12.0 * 0.1 != 1.2
    assert to_canonical(7.0, 1.0) == 7.0 and round_significant(0.0) == 0.0


def test_a_halfway_thirteenth_digit_rounds_as_duckdb_does():
    # 6.103515625e-05 x 1.6114 = 9.835205078125e-05 as a double: DuckDB rounds the scaled value half away
    # from zero (...813); Python's round() rounded the exact binary value down (...812) before the fix.
    with duckdb.connect() as con:
        con.execute(ROUND_SIG_SQL)
        sql = con.execute("SELECT round_sig(6.103515625e-05::DOUBLE * 1.6114::DOUBLE)").fetchone()[0]
    assert to_canonical(6.103515625e-05, 1.6114) == sql == 9.83520507813e-05


def test_subnormal_and_huge_values_do_not_raise():
    # 10**digits is not a double for subnormal values: DuckDB keeps the input, and so does Python (it raised
    # OverflowError in the API before, found by the schemathesis fuzz test)
    assert round_significant(1e-310) == 1e-310 and round_significant(-5e-324) == -5e-324
    assert round_significant(1.7976931348623157e308) == 1.79769313486e308
    assert to_canonical(1e-320, 0.1) == 1e-321
