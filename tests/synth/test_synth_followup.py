"""Follow-up of the synthetic registry: assessment schedule, symptoms, informative loss, cut-off."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.catalogue import MODALITIES
from synth import generate_registry
from synth.cohort import Arrays
from synth.followup import assessment_days
from synth.registry import simulate_patients


@pytest.fixture(scope="module")
def ctx() -> Arrays:
    return simulate_patients(np.random.default_rng(21), 6000)


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return generate_registry(3000, seed=4)


def test_assessment_schedule() -> None:
    assert assessment_days(1000).tolist() == [30, 90, 180, 365, 547, 729, 911, 1093]
    assert assessment_days(911).tolist() == [30, 90, 180, 365, 547, 729, 911]
    assert assessment_days(10).tolist() == [30, 90, 180, 365]


def test_progression_is_recorded_on_an_assessment_day_unless_symptomatic(ctx: Arrays) -> None:
    recorded = ctx["infused"] & ~np.isnan(ctx["progression"])
    day = ctx["progression"][recorded]
    on_schedule = np.isin(day, assessment_days(float(day.max())))
    at_death = day == ctx["death"][recorded]
    symptomatic = ctx["symptomatic"][recorded]
    assert (on_schedule | symptomatic | at_death).all()
    assert 0.3 < on_schedule.mean() < 0.8 and 0.2 < symptomatic.mean() < 0.7
    assert (day >= np.floor(ctx["progression_latent"][recorded])).all(), "found before it happened"
    found_late = (
        day[on_schedule & ~symptomatic] - ctx["progression_latent"][recorded][on_schedule & ~symptomatic]
    )
    assert found_late.max() > 30, "a progression between assessments waits for the next one"


def test_symptomatic_progression_falls_between_assessments(ctx: Arrays) -> None:
    symptomatic = ctx["symptomatic"] & ~(ctx["progression"] == ctx["death"])
    day = ctx["progression"][symptomatic]
    assert not np.isin(day, assessment_days(float(day.max()))).all()
    true_day = ctx["progression_latent"][symptomatic]
    next_visit = assessment_days(float(day.max()))[
        np.searchsorted(assessment_days(float(day.max())), np.ceil(true_day))
    ]
    assert (day <= next_visit).all()


def test_responders_are_lost_to_follow_up_more_often(ctx: Arrays) -> None:
    eligible = ctx["infused"] & (ctx["report_end"] >= 730) & (ctx["progression_latent"] > 30)
    lost = ctx["lost"] & (ctx["last_followup"] < 730)
    responders = lost[eligible & ctx["responder"]].mean()
    others = lost[eligible & ~ctx["responder"]].mean()
    assert responders > 2 * others > 0


def test_responders_are_censored_before_12_months_more_often_in_the_tables(
    tables: dict[str, pd.DataFrame],
) -> None:
    """Informative censoring is visible to an analyst: day-30 DS1-3 patients drop out more than DS4-5."""
    days = _outcome_days(tables)
    cutoff_ok = (pd.Timestamp("2025-06-30") - days["infusion"]).dt.days >= 400
    event_free = days[["progression", "death"]].min(axis=1).isna()
    censored = event_free & (days["last"] < 365) & (days["last"] >= 30) & cutoff_ok
    ds = _day30_deauville(tables, days)
    complete = ds.index[cutoff_ok.loc[ds.index]]
    low, high = ds.loc[complete] <= 3, ds.loc[complete] >= 4
    assert censored.loc[complete][low].mean() > 1.5 * censored.loc[complete][high].mean()


def test_last_followup_is_consistent_with_events_cutoff_and_observations(
    tables: dict[str, pd.DataFrame],
) -> None:
    out = tables["outcomes"].set_index("patient_id")
    progression, death = pd.to_datetime(out["progression_date"]), pd.to_datetime(out["death_date"])
    last = pd.to_datetime(out["last_followup_date"])
    assert last.notna().all()
    assert (last >= progression.fillna(last)).all() and (last >= death.fillna(last)).all()
    both = progression.notna() & death.notna()
    assert (progression[both] <= death[both]).all()
    assert (last <= pd.Timestamp("2025-06-30")).all()
    obs = pd.concat([tables[m] for m in MODALITIES], ignore_index=True)
    collected = pd.to_datetime(obs["collected_at"])
    assert (collected <= obs["patient_id"].map(last)).all(), "an observation after the last contact"


def test_patients_followed_to_the_cutoff_were_last_seen_at_an_assessment(ctx: Arrays) -> None:
    followed = ctx["infused"] & ~ctx["lost"] & np.isnan(ctx["death"]) & np.isnan(ctx["progression"])
    followed &= ctx["report_end"] >= 30
    last = ctx["last_followup"][followed]
    assert np.isin(last, assessment_days(float(last.max()))).all()
    assert (ctx["report_end"][followed] - last < 183).all()


def test_some_patients_leave_before_day_30(ctx: Arrays) -> None:
    early = ctx["infused"] & ctx["lost"] & (ctx["last_followup"] < 30)
    assert 0.005 < early.sum() / ctx["infused"].sum() < 0.05


def _outcome_days(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    patients = tables["patients"].set_index("patient_id")
    out = tables["outcomes"].set_index("patient_id")
    infusion = pd.to_datetime(patients["infusion_date"])
    days = pd.DataFrame(
        {
            "infusion": infusion,
            "progression": (pd.to_datetime(out["progression_date"]) - infusion).dt.days,
            "death": (pd.to_datetime(out["death_date"]) - infusion).dt.days,
            "last": (pd.to_datetime(out["last_followup_date"]) - infusion).dt.days,
        }
    )
    return days[infusion.notna()]


def _day30_deauville(tables: dict[str, pd.DataFrame], days: pd.DataFrame) -> pd.Series:
    rows = tables["imaging"].query("biomarker == 'deauville'")
    day = (pd.to_datetime(rows["collected_at"]) - rows["patient_id"].map(days["infusion"])).dt.days
    rows = rows[day.between(21, 30)]
    return pd.to_numeric(rows.groupby("patient_id")["value"].last())
