"""Survival targets come from outcomes only; the clock starts at the landmark; censored patients stay."""

from __future__ import annotations

import pandas as pd
import pytest

from training.labels import build_targets, count_targets, structured_target

INFUSION = pd.Timestamp("2024-01-01")


def outcome(
    pid: str,
    *,
    progression: int | None = None,
    death: int | None = None,
    followup: int | None = None,
    infused: bool = True,
) -> dict:
    day = lambda d: INFUSION + pd.Timedelta(days=d) if d is not None else pd.NaT  # noqa: E731
    return {
        "patient_id": pid,
        "infusion_date": INFUSION if infused else pd.NaT,
        "progression_date": day(progression),
        "death_date": day(death),
        "last_followup_date": day(followup),
    }


CASES = pd.DataFrame(
    [
        outcome("progressed_day100", progression=100, followup=400),
        outcome("died_day200", death=200, followup=200),
        outcome("event_free_400", followup=400),
        outcome("censored_day200", followup=200),
        outcome("progressed_day500", progression=500, followup=600),
        outcome("progressed_day20", progression=20, followup=300),
        outcome("progressed_then_died", progression=150, death=300, followup=300),
        outcome("lost_day10", followup=10),
        outcome("censored_on_infusion_day", followup=0),
        outcome("never_infused", progression=10, infused=False),
    ]
)


def test_preinfusion_targets_use_every_patients_follow_up():
    t = build_targets(CASES, landmark_day=0)
    assert "never_infused" not in t.index
    expected = {
        "progressed_day100": (100, True, 1, 1.0),
        "died_day200": (200, True, 2, 1.0),
        "event_free_400": (400, False, 0, 0.0),
        "progressed_day500": (500, True, 1, 0.0),
        "progressed_then_died": (150, True, 1, 1.0),
        "censored_on_infusion_day": (0.5, False, 0, None),
    }
    for pid, (time, event, cause, label) in expected.items():
        row = t.loc[pid]
        assert (row["time"], bool(row["event"]), row["cause"]) == (time, event, cause), pid
        assert pd.isna(row["label_365"]) if label is None else row["label_365"] == label, pid
    censored = t.loc["censored_day200"]  # kept as censored, never a non-event
    assert (censored["time"], bool(censored["event"]), censored["status"]) == (200, False, "eligible")
    assert pd.isna(censored["label_365"])


def test_day30_restarts_the_clock_drops_early_events_and_counts_the_lost():
    t = build_targets(CASES, landmark_day=30)
    assert t.loc["progressed_day20", "status"] == "event_before_landmark"
    assert t.loc["lost_day10", "status"] == "lost_before_landmark"
    assert t.loc["progressed_day100", ["time", "event"]].tolist() == [70, True]
    assert t.loc["event_free_400", ["time", "label_365"]].tolist() == [370, 0.0]
    counts = count_targets(t)
    assert (counts.event_before_landmark, counts.lost_before_landmark) == (1, 2)  # lost on days 0 and 10
    assert counts.eligible == 6 and counts.events == counts.progressions + counts.deaths_without_progression


@pytest.mark.parametrize("landmark", [0, 30])
def test_counts_add_up(landmark):
    c = count_targets(build_targets(CASES, landmark_day=landmark))
    assert c.eligible + c.event_before_landmark + c.lost_before_landmark == c.infused
    assert c.events + c.censored == c.eligible


def test_structured_target_is_scikit_survival_shaped():
    t = build_targets(CASES, landmark_day=0)
    y = structured_target(t)
    assert y.dtype.names == ("event", "time") and y["event"].dtype == bool and len(y) == len(t)
