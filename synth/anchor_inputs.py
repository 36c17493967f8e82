"""Read the raw registry tables the way an analyst would, for the calibration anchors.

Everything here uses only the emitted tables (never the latents): follow-up from ``outcomes``,
and per-patient biomarker values from the long tables, converted to canonical units.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.catalogue import load_catalogue


def survival_frame(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """PFS from infusion for infused patients.

    Args:
        tables: registry tables.

    Returns:
        Frame indexed by patient_id with ``product``, ``time`` (days), ``event`` (progression or
        death), ``cause`` (0 censored, 1 progression, 2 death without progression).
    """
    patients = tables["patients"].set_index("patient_id")
    out = tables["outcomes"].set_index("patient_id").reindex(patients.index)
    infusion = pd.to_datetime(patients["infusion_date"], errors="coerce")
    prog = pd.to_datetime(out["progression_date"], errors="coerce")
    death = pd.to_datetime(out["death_date"], errors="coerce")
    last = pd.to_datetime(out["last_followup_date"], errors="coerce")
    first_event = pd.concat([prog, death], axis=1).min(axis=1)
    end = first_event.fillna(last)
    frame = pd.DataFrame(
        {
            "product": patients["product"],
            "time": (end - infusion).dt.days.astype(float),
            "event": first_event.notna().astype(int),
            "cause": np.where(prog.notna() & ~(death < prog), 1, np.where(death.notna(), 2, 0)),
        }
    )
    return frame[infusion.notna()]


def attrition(tables: dict[str, pd.DataFrame]) -> float:
    """Fraction of apheresed patients never infused (empty ``infusion_date``)."""
    return float(tables["patients"]["infusion_date"].isna().mean())


def window_values(
    tables: dict[str, pd.DataFrame], biomarker: str, days: tuple[int, int], *, with_uln: bool = False
) -> pd.DataFrame:
    """Latest value of ``biomarker`` collected within ``days`` of infusion, per infused patient.

    Args:
        tables: registry tables.
        biomarker: catalogue name.
        days: inclusive (first, last) day relative to infusion.
        with_uln: also return the row's ``reference_high`` in the canonical unit as ``uln``.

    Returns:
        Frame indexed by patient_id with ``value`` (canonical unit; float, or text for categories)
        and optionally ``uln``.
    """
    marker = load_catalogue().biomarker(biomarker)
    rows = tables[marker.modality]
    rows = rows[rows["biomarker"] == biomarker]
    factor = rows["unit"].fillna("").map(lambda u: marker.unit_factor(u)).astype(float)
    infusion = pd.to_datetime(tables["patients"].set_index("patient_id")["infusion_date"], errors="coerce")
    collected = pd.to_datetime(rows["collected_at"], errors="coerce")
    day = (collected - rows["patient_id"].map(infusion)).dt.days
    value = (
        rows["value"] if marker.type == "category" else pd.to_numeric(rows["value"], errors="coerce") * factor
    )
    frame = pd.DataFrame(
        {
            "patient_id": rows["patient_id"],
            "value": value,
            "uln": rows["reference_high"].astype(float) * factor,
            "collected": collected,
            "reported": pd.to_datetime(rows["reported_at"], errors="coerce"),
            "day": day,
        }
    )
    frame = frame[(frame["day"] >= days[0]) & (frame["day"] <= days[1])]
    frame = frame.sort_values(["collected", "reported"]).groupby("patient_id").last()
    return frame[["value", "uln"] if with_uln else ["value"]]


def day30_pet_cohort(tables: dict[str, pd.DataFrame], surv: pd.DataFrame) -> pd.DataFrame:
    """Patients with a day-30 PET read while event-free (the published month-1 PET cohorts).

    Kuhnl 2022 and Galtier 2023 report outcome by the month-1 scan for every patient who had one,
    progression found on that scan included. Here: a Deauville score collected on days 21-30, and no
    event recorded before day 21. The clock stays at infusion, so ``1 - S(365)`` is the risk from
    the scan to day 365.

    Args:
        tables: registry tables.
        surv: output of ``survival_frame``.

    Returns:
        ``surv`` rows of the cohort with ``ds`` (Deauville), ``suv`` (day-30 SUVmax), ``ct28``
        (day 21-30 ctDNA, hGE/mL) and ``event_by30`` (event recorded on or before day 30; NaN where
        a marker is missing).
    """
    ds = window_values(tables, "deauville", (21, 30))["value"].rename("ds")
    suv = window_values(tables, "suvmax", (21, 30))["value"].rename("suv")
    ct = window_values(tables, "ctdna", (21, 30))["value"].rename("ct28")
    cohort = surv.join(ds, how="inner").join(suv).join(ct)
    cohort = cohort[cohort["time"] >= 21]
    return cohort.assign(event_by30=(cohort["event"] == 1) & (cohort["time"] <= 30))
