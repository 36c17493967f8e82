"""Anchors on the day-30 views: how PET, ctDNA and CAR-T expansion relate to each other and to outcome.

Sources (evidence.md section 4 unless noted): Dean 2023 (MTV vs ctDNA rank correlations), Galtier
2023 and Kuhnl 2022 (outcome by month-1 Deauville), Frank 2021 / evidence section 4 (ctDNA in
PET-equivocal responders), Al Zaki 2022 (SUVmax >= 10 in PR/SD), JULIET (per-2x Cmax HR, section 1e).
Event rates are censoring-aware: Kaplan-Meier ``1 - S(365)`` and Aalen-Johansen for progression
with death as a competing event, in the month-1 PET cohort of ``anchor_inputs.day30_pet_cohort``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .anchor_inputs import day30_pet_cohort, window_values
from .anchor_outcomes import NAN3, YEAR, Measure, Measurer, cox_on
from .estimates import cumulative_incidence_at, km_survival_at, spearman

SIX_MONTHS = YEAR / 2


def spearman_of(a: tuple[str, tuple[int, int]], b: tuple[str, tuple[int, int]]) -> Measurer:
    """Spearman's rho between two window values, over patients with both.

    Args:
        a: (biomarker, (first day, last day)).
        b: the same for the second marker.

    Returns:
        The measure.
    """

    def measure(tables: dict[str, pd.DataFrame], surv: pd.DataFrame) -> Measure:
        x = window_values(tables, a[0], a[1])["value"].rename("x")
        y = window_values(tables, b[0], b[1])["value"].rename("y")
        both = pd.concat([x, y], axis=1, join="inner").dropna()
        return (spearman(both["x"], both["y"]), *NAN3)

    return measure


def event12_by_ds(lo: int, hi: int) -> Measurer:
    """12-month event rate (KM, from the scan) of day-30 Deauville ``lo``-``hi``."""

    def measure(tables: dict[str, pd.DataFrame], surv: pd.DataFrame) -> Measure:
        return (_event12(_ds_group(tables, surv, lo, hi)), *NAN3)

    return measure


def event12_gap(lower: tuple[int, int], upper: tuple[int, int]) -> Measurer:
    """12-month event rate of Deauville group ``upper`` minus that of group ``lower``."""

    def measure(tables: dict[str, pd.DataFrame], surv: pd.DataFrame) -> Measure:
        high = _event12(_ds_group(tables, surv, *upper))
        low = _event12(_ds_group(tables, surv, *lower))
        return (high - low, *NAN3)

    return measure


def progression6_by_ds(lo: int, hi: int) -> Measurer:
    """Risk of progression by month 6 (Aalen-Johansen; death without progression competes)."""

    def measure(tables: dict[str, pd.DataFrame], surv: pd.DataFrame) -> Measure:
        s = _ds_group(tables, surv, lo, hi)
        return (cumulative_incidence_at(s["time"], s["cause"], SIX_MONTHS, k=1), *NAN3)

    return measure


def ctdna_gap_in_ds4(tables: dict[str, pd.DataFrame], surv: pd.DataFrame) -> Measure:
    """Among day-30 DS4: 12-month event rate of day-28 ctDNA-positive minus ctDNA-negative."""
    s = _ds_group(tables, surv, 4, 4).dropna(subset=["ct28"])
    return (_event12(s[s["ct28"] > 0]) - _event12(s[s["ct28"] == 0]), *NAN3)


def high_suv_in_pr_sd(tables: dict[str, pd.DataFrame], surv: pd.DataFrame) -> Measure:
    """12-month event rate of day-30 PR/SD (DS4-5 without progression) with SUVmax >= 10."""
    cohort = day30_pet_cohort(tables, surv)
    s = cohort[(cohort["ds"] >= 4) & ~cohort["event_by30"] & (cohort["suv"] >= 10)]
    return (_event12(s), *NAN3)


def car_peak_hr(tables: dict[str, pd.DataFrame], surv: pd.DataFrame) -> Measure:
    """Cox HR per doubling of the day 7-14 CAR-T peak, from the day-30 landmark."""
    at_risk = surv[surv["time"] > 30].assign(time=lambda f: f["time"] - 30)
    peak = window_values(tables, "car_peak", (7, 14))["value"]
    return cox_on(at_risk, np.log2(peak[peak > 0]))


def _ds_group(tables: dict[str, pd.DataFrame], surv: pd.DataFrame, lo: int, hi: int) -> pd.DataFrame:
    cohort = day30_pet_cohort(tables, surv)
    return cohort[(cohort["ds"] >= lo) & (cohort["ds"] <= hi)]


def _event12(s: pd.DataFrame) -> float:
    return 1.0 - km_survival_at(s["time"], s["event"], YEAR)


DAY30_ANCHORS: tuple[tuple[str, str, float, float, Measurer], ...] = (
    (
        "Spearman day-30 SUVmax vs day-28 ctDNA",
        "rs 0.28 at 1 month, P=.11 (Dean 2023)",
        0.15,
        0.45,
        spearman_of(("suvmax", (21, 30)), ("ctdna", (21, 30))),
    ),
    (
        "Spearman day-30 MTV vs day-28 ctDNA",
        "rs 0.28 at 1 month, P=.11 (Dean 2023)",
        0.15,
        0.45,
        spearman_of(("tmtv", (21, 30)), ("ctdna", (21, 30))),
    ),
    (
        "Spearman baseline MTV vs pre-LD ctDNA",
        "rs 0.61 at baseline (Dean 2023)",
        0.45,
        0.75,
        spearman_of(("tmtv", (-14, -3)), ("ctdna", (-14, -3))),
    ),
    (
        "12-mo event rate day-30 DS1-3",
        "32.7% Galtier (1-y PFS 67.3%); 24% Al Zaki (D30 CR)",
        0.15,
        0.43,
        event12_by_ds(1, 3),
    ),
    ("12-mo event rate day-30 DS4", "21.1% Galtier; Kuhnl PD by M6 46%", 0.20, 0.55, event12_by_ds(4, 4)),
    (
        "12-mo event rate day-30 DS5",
        "91.4% Galtier (1-y PFS 8.6%); Kuhnl 100% by M6",
        0.80,
        1.0,
        event12_by_ds(5, 5),
    ),
    ("12-mo events DS4 minus DS1-3", "order DS1-3 < DS4 (Kuhnl)", 0.0, 1.0, event12_gap((1, 3), (4, 4))),
    ("12-mo events DS5 minus DS4", "order DS4 < DS5 (Galtier, Kuhnl)", 0.0, 1.0, event12_gap((4, 4), (5, 5))),
    (
        "Progression by M6, day-30 DS1-2",
        "15% (Kuhnl 2022), +-10 points",
        0.05,
        0.25,
        progression6_by_ds(1, 2),
    ),
    ("Progression by M6, day-30 DS3", "32% (Kuhnl 2022), +-10 points", 0.22, 0.42, progression6_by_ds(3, 3)),
    ("Progression by M6, day-30 DS4", "46% (Kuhnl 2022), +-10 points", 0.36, 0.56, progression6_by_ds(4, 4)),
    ("Progression by M6, day-30 DS5", "100% (Kuhnl 2022), -10 points", 0.90, 1.0, progression6_by_ds(5, 5)),
    (
        "DS4: 12-mo events ctDNA+ minus ctDNA-",
        "~88% vs ~10% in PET-equivocal (evidence 4)",
        0.30,
        1.0,
        ctdna_gap_in_ds4,
    ),
    (
        "12-mo events D30 PR/SD with SUVmax >=10",
        "all progressed (Al Zaki 2022)",
        0.75,
        1.0,
        high_suv_in_pr_sd,
    ),
    ("HR per doubling CAR-T peak (from day 30)", "0.79 (0.61-1.01) JULIET", 0.61, 1.01, car_peak_hr),
)
