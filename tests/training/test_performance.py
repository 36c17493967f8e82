"""Performance tables: CIs per metric, paired differences, net-benefit strategies."""

from __future__ import annotations

import numpy as np
import pytest

from training.performance import delta_table, metric_table, net_benefit_table


def _evals():
    rng = np.random.default_rng(0)
    base = rng.normal(0.7, 0.01, 201)
    return {
        "a": {"uno_c_365": base + 0.02, "nb_0.30": base - 0.2},
        "b": {"uno_c_365": base, "nb_0.30": base - 0.25},
    }


def test_metric_table_has_point_and_percentile_interval():
    table = metric_table(_evals(), ["uno_c_365", "ibs"]).set_index("candidate")
    a = table.loc["a"]
    assert a["uno_c_365_lo"] < a["uno_c_365"] < a["uno_c_365_hi"] and np.isnan(a["ibs"])


def test_paired_differences_cancel_shared_noise():
    table = delta_table(_evals(), [("a", "b")], ["uno_c_365"])
    row = table.iloc[0]
    assert row["delta"] == pytest.approx(0.02) and row["low"] == pytest.approx(0.02) and row["excludes_zero"]


def test_net_benefit_table_adds_treat_none():
    table = net_benefit_table(_evals(), {"treat all": {"nb_0.30": np.full(201, 0.1)}})
    assert set(table["strategy"]) == {"a", "b", "treat all", "treat none"} and set(table["threshold"]) == {
        0.3
    }
