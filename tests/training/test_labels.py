"""Labels come from outcomes only; censored-before-horizon patients are excluded, not negatives."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from training.labels import build_labels, count_labels

INFUSION = pd.Timestamp("2024-01-01")


def outcome(pid: str, *, progression: int | None = None, death: int | None = None, followup: int | None = None,
            infused: bool = True) -> dict:
    day = lambda d: INFUSION + pd.Timedelta(days=d) if d is not None else pd.NaT  # noqa: E731
    return {"patient_id": pid, "infusion_date": INFUSION if infused else pd.NaT, "progression_date": day(progression),
            "death_date": day(death), "last_followup_date": day(followup)}


CASES = pd.DataFrame([
    outcome("progressed_day100", progression=100, followup=400),
    outcome("died_day200", death=200, followup=200),
    outcome("event_free_400", followup=400),
    outcome("censored_day200", followup=200),
    outcome("progressed_day500", progression=500, followup=600),
    outcome("progressed_day20", progression=20, followup=300),
    outcome("followed_exactly_365", followup=365),
    outcome("never_infused", progression=10, infused=False),
])


def test_preinfusion_labels():
    labels = build_labels(CASES, landmark_day=0)
    assert "never_infused" not in labels.index
    expected = {"progressed_day100": 1, "died_day200": 1, "event_free_400": 0, "progressed_day500": 0,
                "progressed_day20": 1, "followed_exactly_365": 0}
    assert labels.loc[list(expected), "label"].to_dict() == {k: float(v) for k, v in expected.items()}
    assert math.isnan(labels.loc["censored_day200", "label"])


def test_time_to_event_is_kept_for_censored_patients_and_truncated_at_horizon():
    labels = build_labels(CASES, landmark_day=0)
    assert labels.loc["censored_day200", ["time", "event"]].tolist() == [200, 0]
    assert labels.loc["progressed_day100", ["time", "event"]].tolist() == [100, 1]
    assert labels.loc["progressed_day500", ["time", "event"]].tolist() == [365, 0]


def test_day30_landmark_restarts_the_clock_and_drops_early_events():
    labels = build_labels(CASES, landmark_day=30)
    assert not labels.loc["progressed_day20", "at_risk"]
    assert labels.loc["progressed_day100", ["label", "time"]].tolist() == [1.0, 70]
    counts = count_labels(labels)
    assert (counts.positive, counts.negative, counts.censored_before_horizon, counts.event_before_landmark) == (2, 3, 1, 1)


@pytest.mark.parametrize("landmark", [0, 30])
def test_counts_add_up(landmark):
    counts = count_labels(build_labels(CASES, landmark_day=landmark))
    assert counts.positive + counts.negative + counts.censored_before_horizon == counts.eligible
