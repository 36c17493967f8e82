"""Binary labels at the horizon, and time-to-event, built from ``outcomes`` only (never features).

Event: progression/relapse or death from any cause, whichever comes first. For a landmark at day
L the clock runs from infusion; the label is 1 if the event falls in (L, horizon], 0 if the patient
was followed event-free past the horizon (or the event came later), and undefined (NaN) if
censored before the horizon without an event: such patients are excluded from classification,
never counted as negatives. Time-to-event (from the landmark, administratively truncated at the
horizon) is kept for everyone so that Harrell's C uses censored patients too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

HORIZON_DAYS = 365


@dataclass(frozen=True)
class LabelCounts:
    eligible: int
    positive: int
    negative: int
    censored_before_horizon: int
    event_before_landmark: int


def build_labels(outcomes: pd.DataFrame, *, landmark_day: int, horizon_days: int = HORIZON_DAYS) -> pd.DataFrame:
    """Label every infused patient for one landmark.

    Args:
        outcomes: one row per patient with ``patient_id``, ``infusion_date``, ``progression_date``,
            ``death_date``, ``last_followup_date`` (datetimes; NaT where absent).
        landmark_day: days after infusion at which the prediction is made (0 or 30).
        horizon_days: end of the prediction window, days after infusion.

    Returns:
        Frame indexed by ``patient_id`` with ``label`` (1.0, 0.0 or NaN), ``time`` (days from the
        landmark to the event or censoring, truncated at the horizon), ``event`` (0/1 within the
        horizon) and ``at_risk`` (event-free at the landmark). Non-infused patients are dropped.
    """
    infused = outcomes[outcomes["infusion_date"].notna()].copy()
    day = _days_from_infusion(infused)
    event_day = pd.concat([day["progression"], day["death"]], axis=1).min(axis=1)
    has_event = event_day.notna()
    last_seen = pd.concat([day["followup"], event_day], axis=1).max(axis=1)

    at_risk = ~(has_event & (event_day <= landmark_day))
    positive = has_event & (event_day > landmark_day) & (event_day <= horizon_days)
    negative = at_risk & ~positive & (last_seen >= horizon_days)
    label = np.where(positive, 1.0, np.where(negative, 0.0, np.nan))

    stop = np.minimum(np.where(has_event, event_day, last_seen), horizon_days)
    frame = pd.DataFrame(
        {
            "patient_id": infused["patient_id"].to_numpy(),
            "label": label,
            "time": stop - landmark_day,
            "event": positive.astype(int).to_numpy(),
            "at_risk": at_risk.to_numpy(),
        }
    )
    return frame.set_index("patient_id")


def count_labels(labels: pd.DataFrame) -> LabelCounts:
    """How many patients are labelled, and why the others are not."""
    at_risk = labels[labels["at_risk"]]
    return LabelCounts(
        eligible=len(at_risk),
        positive=int((at_risk["label"] == 1).sum()),
        negative=int((at_risk["label"] == 0).sum()),
        censored_before_horizon=int(at_risk["label"].isna().sum()),
        event_before_landmark=int((~labels["at_risk"]).sum()),
    )


def _days_from_infusion(frame: pd.DataFrame) -> pd.DataFrame:
    origin = pd.to_datetime(frame["infusion_date"])
    columns = {"progression": "progression_date", "death": "death_date", "followup": "last_followup_date"}
    return pd.DataFrame(
        {key: (pd.to_datetime(frame[col]) - origin).dt.days.astype("float64") for key, col in columns.items()},
        index=frame.index,
    )
