"""12-month labels and time-to-event from a landmark, read from the registry tables.

Same definition as the training labels (training/labels.py), rebuilt here because the generator
must not import training code: the event is progression or death, whichever comes first; for a
landmark at day L the label is 1 if the event falls in (L, 365], 0 if the patient was followed
event-free past day 365 (or the event came later), and undefined (NaN) if censored earlier. Time
runs from the landmark to the event or last contact, truncated at day 365.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

HORIZON_DAYS = 365


def landmark_labels(
    tables: dict[str, pd.DataFrame], *, landmark_day: int, horizon_days: int = HORIZON_DAYS
) -> pd.DataFrame:
    """Label every infused patient for one landmark.

    Args:
        tables: registry tables (``patients`` and ``outcomes`` are read).
        landmark_day: days after infusion at which the prediction is made (0 or 30).
        horizon_days: end of the prediction window, days after infusion.

    Returns:
        Frame indexed by ``patient_id`` with ``label`` (1.0, 0.0 or NaN), ``time`` (days from the
        landmark, truncated at the horizon), ``event`` (0/1 within the horizon), ``at_risk``
        (event-free at the landmark) and ``last_seen`` (days from infusion to the last contact or
        event). Never-infused patients are dropped.
    """
    day = _days_from_infusion(tables)
    event_day = day[["progression", "death"]].min(axis=1)
    has_event = event_day.notna()
    last_seen = pd.concat([day["followup"], event_day], axis=1).max(axis=1)
    at_risk = ~(has_event & (event_day <= landmark_day))
    positive = has_event & (event_day > landmark_day) & (event_day <= horizon_days)
    negative = at_risk & ~positive & (last_seen >= horizon_days)
    stop = np.minimum(np.where(has_event, event_day, last_seen), horizon_days)
    return pd.DataFrame(
        {
            "label": np.where(positive, 1.0, np.where(negative, 0.0, np.nan)),
            "time": stop - landmark_day,
            "event": positive.astype(int),
            "at_risk": at_risk,
            "last_seen": last_seen,
        },
        index=day.index,
    )


def _days_from_infusion(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    patients = tables["patients"].set_index("patient_id")
    outcomes = tables["outcomes"].set_index("patient_id").reindex(patients.index)
    infusion = pd.to_datetime(patients["infusion_date"], errors="coerce")
    columns = {"progression": "progression_date", "death": "death_date", "followup": "last_followup_date"}
    days = pd.DataFrame(
        {
            key: (pd.to_datetime(outcomes[col], errors="coerce") - infusion).dt.days.astype("float64")
            for key, col in columns.items()
        }
    )
    return days[infusion.notna()]
