"""Survival targets from the landmark, built from ``outcomes`` only (never from features).

Event: progression/relapse or death from any cause, whichever comes first (progression-free
survival). The clock starts at the landmark: infusion day for ``preinfusion`` (day 0), day 30 for
``day30`` (evidence: docs/evidence.md, landmark models). Every eligible patient keeps their whole
follow-up: a patient censored before a horizon is a censored observation, never a non-event and
never dropped.

Eligibility at a landmark on day L > 0: alive, progression-free and still under follow-up at day L.
Patients lost to follow-up before day L (last contact before L, no event) are excluded and counted.
``cause`` separates progression (1) from death without progression (2) for the Aalen-Johansen
cumulative incidence; ``label_<h>`` is the binary horizon label where it is defined (for the IPCW
reference classifier and the complete-case comparison only).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.baseline import MIN_TIME


@dataclass(frozen=True)
class TargetCounts:
    """How many infused patients are in the landmark cohort, and why the others are not."""

    infused: int
    event_before_landmark: int
    lost_before_landmark: int
    eligible: int
    events: int
    progressions: int
    deaths_without_progression: int
    censored: int
    censored_before_365: int


def build_targets(outcomes: pd.DataFrame, *, landmark_day: int) -> pd.DataFrame:
    """The survival target of every infused patient for one landmark.

    Args:
        outcomes: one row per patient with ``patient_id``, ``infusion_date``, ``progression_date``,
            ``death_date``, ``last_followup_date`` (datetimes; NaT where absent).
        landmark_day: days after infusion at which the prediction is made (0 or 30).

    Returns:
        Frame indexed by ``patient_id`` with ``time`` (days from the landmark to the first event or
        the last contact, at least 0.5), ``event`` (bool), ``cause`` (0 censored, 1 progression,
        2 death without progression), ``label_365`` (1.0, 0.0, or NaN if censored before day 365 after
        the landmark) and ``status`` (``eligible``, ``event_before_landmark`` or ``lost_before_landmark``).
    """
    infused = outcomes[outcomes["infusion_date"].notna()]
    day = _days_from_infusion(infused)
    event_day = day[["progression", "death"]].min(axis=1)
    has_event = event_day.notna().to_numpy()
    last_seen = np.fmax(day["followup"].to_numpy(), event_day.to_numpy())
    progression_first = day["progression"].notna() & ~(day["death"] < day["progression"])
    stop = np.where(has_event, event_day.to_numpy(), last_seen)
    time = np.maximum(stop - landmark_day, MIN_TIME)
    status = np.select(
        [has_event & (event_day.to_numpy() <= landmark_day), ~has_event & ~(last_seen >= landmark_day)],
        ["event_before_landmark", "lost_before_landmark"],
        "eligible",
    )
    return pd.DataFrame(
        {
            "time": time,
            "event": has_event,
            "cause": np.where(has_event, np.where(progression_first.to_numpy(), 1, 2), 0),
            "label_365": np.where(has_event & (time <= 365), 1.0, np.where(time > 365, 0.0, np.nan)),
            "status": status,
        },
        index=pd.Index(infused["patient_id"].to_numpy(), name="patient_id"),
    )


def count_targets(targets: pd.DataFrame) -> TargetCounts:
    """Counts of the cohort flow and of the eligible patients' outcomes."""
    eligible = targets[targets["status"] == "eligible"]
    return TargetCounts(
        infused=len(targets),
        event_before_landmark=int((targets["status"] == "event_before_landmark").sum()),
        lost_before_landmark=int((targets["status"] == "lost_before_landmark").sum()),
        eligible=len(eligible),
        events=int(eligible["event"].sum()),
        progressions=int((eligible["cause"] == 1).sum()),
        deaths_without_progression=int((eligible["cause"] == 2).sum()),
        censored=int((~eligible["event"]).sum()),
        censored_before_365=int(eligible["label_365"].isna().sum()),
    )


def structured_target(targets: pd.DataFrame) -> np.ndarray:
    """The scikit-survival target: a structured array of (``event`` bool, ``time`` float)."""
    out = np.empty(len(targets), dtype=[("event", bool), ("time", np.float64)])
    out["event"] = targets["event"].to_numpy(dtype=bool)
    out["time"] = targets["time"].to_numpy(dtype=np.float64)
    return out


def _days_from_infusion(frame: pd.DataFrame) -> pd.DataFrame:
    origin = pd.to_datetime(frame["infusion_date"])
    columns = {"progression": "progression_date", "death": "death_date", "followup": "last_followup_date"}
    return pd.DataFrame(
        {
            key: (pd.to_datetime(frame[col]) - origin).dt.days.astype("float64")
            for key, col in columns.items()
        },
        index=frame.index,
    )
