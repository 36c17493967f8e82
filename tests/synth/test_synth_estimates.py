"""The generator's statistics helpers (lifelines and scipy underneath) on small known cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synth.anchors import ANCHORS, format_markdown
from synth.estimates import cox_hr, cumulative_incidence_at, km_median, km_survival_at, spearman
from synth.landmark_labels import landmark_labels


def test_kaplan_meier_by_hand() -> None:
    time, event = [1, 2, 3, 4, 5], [1, 0, 1, 1, 0]
    # S(1) = 4/5; censored at 2; S(3) = 4/5 * 2/3; S(4) = S(3) * 1/2
    assert km_survival_at(time, event, 3.5) == pytest.approx(0.8 * 2 / 3)
    assert km_survival_at(time, event, 4) == pytest.approx(0.8 * 2 / 3 * 0.5)
    assert km_median(time, event) == 4
    assert np.isnan(km_survival_at([], [], 1.0))


def test_cox_hazard_ratio_recovers_a_known_effect() -> None:
    rng = np.random.default_rng(0)
    x = rng.random(4000) < 0.5
    time = rng.exponential(1.0 / np.where(x, 2.0, 1.0))
    hr, lo, hi = cox_hr(time, np.ones(4000), x.astype(float))
    assert lo < 2.0 < hi and 1.8 < hr < 2.2


def test_aalen_johansen_counts_competing_deaths_separately() -> None:
    time = [1, 2, 3, 4, 6, 8]
    cause = [1, 2, 1, 0, 2, 1]
    by5 = cumulative_incidence_at(time, cause, 5, k=1)
    assert by5 == pytest.approx(2 / 6, abs=1e-6)  # no censoring before the second progression at t=3
    assert cumulative_incidence_at(time, cause, 0.5, k=1) == 0.0


def test_spearman() -> None:
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert np.isnan(spearman([1, 2], [1, 2]))


def test_landmark_labels_follow_the_training_definition() -> None:
    ids = ["early", "event", "followed", "died", "late", "censored", "never"]
    tables = {
        "patients": pd.DataFrame({"patient_id": ids, "infusion_date": ["2020-01-01"] * 6 + [None]}),
        "outcomes": pd.DataFrame(
            {
                "patient_id": ids,
                "progression_date": ["2020-01-21", "2020-06-01", None, None, "2021-06-01", None, None],
                "death_date": [None, None, None, "2020-03-01", None, None, None],
                "last_followup_date": [
                    "2020-02-01",
                    "2020-07-01",
                    "2021-03-01",
                    "2020-03-01",
                    "2021-07-01",
                    "2020-09-01",
                    "2020-01-01",
                ],
            }
        ),
    }
    labels = landmark_labels(tables, landmark_day=30)
    assert list(labels.index) == ids[:-1]  # never infused dropped
    assert labels["at_risk"].tolist() == [False, True, True, True, True, True]
    assert labels["label"].tolist()[1:5] == [1.0, 0.0, 1.0, 0.0]  # late: event after the horizon
    assert np.isnan(labels.loc["censored", "label"])  # last seen on day 244, event-free
    assert labels.loc["event", "time"] == 152 - 30 and labels.loc["followed", "time"] == 365 - 30


def test_markdown_anchor_table_has_one_row_per_anchor() -> None:
    result = pd.DataFrame(
        {
            "anchor": [a.name for a in ANCHORS],
            "published": ["p|q"] * len(ANCHORS),
            "target_low": 0.1,
            "target_high": 0.2,
            "generated": 0.15,
            "ci_low": np.nan,
            "ci_high": np.nan,
            "ok": True,
        }
    )
    text = format_markdown(result, "Anchors")
    lines = text.splitlines()
    assert lines[0] == "**Anchors**" and lines[2].startswith("| anchor | published |")
    assert len(lines) == 4 + len(ANCHORS)
    assert all(line.count("|") == 7 for line in lines[2:])  # a "|" inside a cell is escaped away
