"""Anchors on outcomes, products and baseline markers (the generator's first calibration targets).

Each function measures one published number on the raw tables (never the latents): PFS and NRM
from ``outcomes``, ECOG from the pre-LD row (apheresis if missing), LDH/ULN from the pre-LD LDH and
its ``reference_high``, TMTV from the pre-LD scan, Deauville from the day-30 window scan, ctDNA from
the day 21-30 sample. Kaplan-Meier, Cox and Aalen-Johansen come from ``estimates`` (lifelines).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from .anchor_inputs import attrition, window_values
from .estimates import cox_fit, cox_hr, cumulative_incidence_at, km_median, km_survival_at

YEAR = 365.0
MONTH = 365.25 / 12
NAN3 = (float("nan"), float("nan"))
Measure = tuple[float, float, float]  # generated value, CI low, CI high (NaN if not an HR)
Measurer = Callable[[dict[str, pd.DataFrame], pd.DataFrame], Measure]


def _pfs12(product: str | None) -> Measurer:
    def measure(tables: dict[str, pd.DataFrame], surv: pd.DataFrame) -> Measure:
        s = surv if product is None else surv[surv["product"] == product]
        return (km_survival_at(s["time"], s["event"], YEAR), *NAN3)

    return measure


def cox_on(surv: pd.DataFrame, x: pd.Series) -> Measure:
    """Univariable Cox HR of ``x`` (aligned on patient_id; missing rows dropped).

    Args:
        surv: ``time`` and ``event`` indexed by patient_id (e.g. ``survival_frame``).
        x: covariate indexed by patient_id.

    Returns:
        (HR, CI low, CI high), Wald 95%.
    """
    data = surv.join(x.rename("x"), how="inner").dropna(subset=["x"])
    return cox_hr(data["time"], data["event"], data["x"].astype(float))


def _tisa_vs_axi(tables: dict[str, pd.DataFrame], surv: pd.DataFrame) -> Measure:
    s = surv[surv["product"].isin(["axi-cel", "tisa-cel"])]
    return cox_on(s, (s["product"] == "tisa-cel").astype(float))


def _ecog(tables: dict[str, pd.DataFrame]) -> pd.Series:
    """Pre-LD ECOG, apheresis ECOG where the pre-LD one is missing."""
    preld = window_values(tables, "ecog", (-14, -3))["value"]
    apheresis = window_values(tables, "ecog", (-180, -15))["value"]
    return preld.combine_first(apheresis)


def _ecog_hr(tables: dict[str, pd.DataFrame], surv: pd.DataFrame) -> Measure:
    return cox_on(surv, (_ecog(tables) >= 2).astype(float))


def _ecog_prevalence(tables: dict[str, pd.DataFrame], surv: pd.DataFrame) -> Measure:
    ecog = _ecog(tables).reindex(surv.index).dropna()
    return (float((ecog >= 2).mean()), *NAN3)


def _ldh_hr(tables: dict[str, pd.DataFrame], surv: pd.DataFrame) -> Measure:
    ldh = window_values(tables, "ldh", (-14, -3), with_uln=True)
    return cox_on(surv, pd.Series(np.log2(ldh["value"] / ldh["uln"]), index=ldh.index))


def _tmtv_hr(tables: dict[str, pd.DataFrame], surv: pd.DataFrame) -> Measure:
    return cox_on(surv, (window_values(tables, "tmtv", (-14, -3))["value"] > 147.5).astype(float))


def _day30_deauville(tables: dict[str, pd.DataFrame], surv: pd.DataFrame) -> pd.Series:
    return window_values(tables, "deauville", (21, 30))["value"]


def _deauville_hr(tables: dict[str, pd.DataFrame], surv: pd.DataFrame) -> Measure:
    at_risk = surv[surv["time"] > 30].assign(time=lambda f: f["time"] - 30)
    ds = _day30_deauville(tables, surv)
    ds = ds[(ds <= 3) | (ds == 5)]
    return cox_on(at_risk, (ds == 5).astype(float))


def _deauville_share(lo: int, hi: int) -> Measurer:
    def measure(tables: dict[str, pd.DataFrame], surv: pd.DataFrame) -> Measure:
        ds = _day30_deauville(tables, surv).reindex(surv.index).dropna()
        return (float(((ds >= lo) & (ds <= hi)).mean()), *NAN3)

    return measure


def _ctdna_day28(tables: dict[str, pd.DataFrame], surv: pd.DataFrame, detected: bool) -> pd.DataFrame:
    ct = window_values(tables, "ctdna", (21, 30))["value"]
    return surv.join(ct.rename("ct"), how="inner").loc[lambda f: (f["ct"] > 0) == detected]


def _ctdna_pos_median(tables: dict[str, pd.DataFrame], surv: pd.DataFrame) -> Measure:
    s = _ctdna_day28(tables, surv, detected=True)
    return (km_median(s["time"], s["event"]) / MONTH, *NAN3)


def _ctdna_neg_pfs12(tables: dict[str, pd.DataFrame], surv: pd.DataFrame) -> Measure:
    s = _ctdna_day28(tables, surv, detected=False)
    return (km_survival_at(s["time"], s["event"], YEAR), *NAN3)


def _nrm(tables: dict[str, pd.DataFrame], surv: pd.DataFrame) -> Measure:
    return (cumulative_incidence_at(surv["time"], surv["cause"], YEAR, k=2), *NAN3)


def _attrition(tables: dict[str, pd.DataFrame], surv: pd.DataFrame) -> Measure:
    return (attrition(tables), *NAN3)


def _early_share(tables: dict[str, pd.DataFrame], surv: pd.DataFrame) -> Measure:
    by6 = 1 - km_survival_at(surv["time"], surv["event"], YEAR / 2)
    by12 = 1 - km_survival_at(surv["time"], surv["event"], YEAR)
    return (by6 / by12, *NAN3)


def _median_of(biomarker: str) -> Measurer:
    def measure(tables: dict[str, pd.DataFrame], surv: pd.DataFrame) -> Measure:
        v = window_values(tables, biomarker, (-14, -3))["value"].reindex(surv.index).dropna()
        return (float(v.median()), *NAN3)

    return measure


def _ctdna_coverage(tables: dict[str, pd.DataFrame], surv: pd.DataFrame) -> Measure:
    return (float(tables["patients"]["patient_id"].isin(tables["ctdna"]["patient_id"]).mean()), *NAN3)


def centre_log_hrs(tables: dict[str, pd.DataFrame], surv: pd.DataFrame) -> pd.Series:
    """Each centre's log hazard ratio (PFS from infusion), from one Cox model adjusted for product.

    Args:
        tables: registry tables.
        surv: output of ``survival_frame``.

    Returns:
        Log HR per centre code, relative to the first centre (0 for it).
    """
    centre = tables["patients"].set_index("patient_id")["center"].reindex(surv.index)
    dummies = pd.get_dummies(centre, dtype=float)
    products = pd.get_dummies(surv["product"], dtype=float)
    data = pd.concat([surv[["time", "event"]], dummies.iloc[:, 1:], products.iloc[:, 1:]], axis=1)
    coef: pd.Series = cox_fit(data)["coef"]
    shifts: pd.Series = pd.concat([pd.Series({dummies.columns[0]: 0.0}), coef.loc[dummies.columns[1:]]])
    return shifts


def _centre_spread(tables: dict[str, pd.DataFrame], surv: pd.DataFrame) -> Measure:
    return (float(np.std(centre_log_hrs(tables, surv).to_numpy())), *NAN3)


# (name, published, low, high, measure)
OUTCOME_ANCHORS: tuple[tuple[str, str, float, float, Measurer], ...] = (
    ("12-mo PFS axi-cel", "40-47% RW (DESCAR-T 46.6%, UK 41.8%, Spain 41%)", 0.40, 0.47, _pfs12("axi-cel")),
    ("12-mo PFS tisa-cel", "27-34% RW (UK 27.4%, DESCAR-T 33.2%, Spain 33%)", 0.27, 0.34, _pfs12("tisa-cel")),
    ("HR tisa vs axi", "1.8 (1.4-2.3) Buecklein; 2.25 (1.65-3.06) 3-product", 1.8, 2.3, _tisa_vs_axi),
    ("HR ECOG 2-4 vs 0-1", "1.9 (1.3-2.6) Buecklein 2023", 1.3, 2.6, _ecog_hr),
    ("HR per doubling LDH/ULN", "1.3 (1.1-1.5) Buecklein 2023", 1.1, 1.5, _ldh_hr),
    ("HR TMTV >147.5 mL", "~2.5 (1.12-5.6) Dean 2020 (low vs high 0.40)", 2.0, 3.2, _tmtv_hr),
    ("HR day-30 DS5 vs DS1-3", "6.37 (3.5-11.5) Galtier 2023, from day 30", 3.5, 11.5, _deauville_hr),
    ("Median PFS ctDNA+ day 28 (mo)", "~3 months (Frank JCO 2021)", 2.0, 4.5, _ctdna_pos_median),
    ("12-mo PFS ctDNA- day 28", "median not reached (Frank JCO 2021)", 0.5, 1.0, _ctdna_neg_pfs12),
    ("NRM at 12 mo", "4-7% (evidence 2c)", 0.04, 0.07, _nrm),
    ("Attrition apheresis->infusion", "8% US, 15% Spain, 26% UK", 0.08, 0.26, _attrition),
    ("12-mo PFS all infused", "30-47% (evidence 2c)", 0.30, 0.47, _pfs12(None)),
    ("ECOG >=2 prevalence", "10-20% RW [M]", 0.10, 0.20, _ecog_prevalence),
    ("Share of 12-mo events by month 6", "most failures by month 6 (evidence 2c)", 0.65, 0.95, _early_share),
    ("Day-30 DS1-2 share", "31% (Kuhnl 2022, n=171)", 0.25, 0.37, _deauville_share(1, 2)),
    ("Day-30 DS3 share", "24% (Kuhnl 2022)", 0.18, 0.30, _deauville_share(3, 3)),
    ("Day-30 DS4 share", "35% (Kuhnl 2022)", 0.28, 0.42, _deauville_share(4, 4)),
    ("Day-30 DS5 share", "10% (Kuhnl 2022)", 0.06, 0.15, _deauville_share(5, 5)),
    ("Pre-LD LDH median (U/L)", "236 (191-321); 281.5 (260-318)", 220.0, 290.0, _median_of("ldh")),
    ("Baseline TMTV median (mL)", "228 ZUMA-7 axi; 147.5 Dean split", 140.0, 240.0, _median_of("tmtv")),
    ("Patients with any ctDNA", "research programmes only [E] 20-30%", 0.20, 0.30, _ctdna_coverage),
)

CENTRE_ANCHORS: tuple[tuple[str, str, float, float, Measurer], ...] = (
    (
        "SD of centre log HR (Cox, product-adjusted)",
        "0.1-0.3 between-centre spread [E]; aim about 0.2",
        0.10,
        0.30,
        _centre_spread,
    ),
)
