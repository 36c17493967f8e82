"""Derived features and published clinical scores, computed from a point-in-time frame.

Definitions follow ../shared/domain/evidence.md section 3. Every score uses pre-lymphodepletion
values (apheresis values where the catalogue says so, or as a documented fallback). A score whose
inputs are missing is missing (NaN); it is never silently scored as normal.

Boundary conventions (evidence.md marks CAR-HEMATOTOX inclusivity as unconfirmed [M]); we use:
platelets <75 -> 2, 75-175 -> 1, >175 -> 0 (x10^9/L); ANC <1.2 x10^9/L -> 1; haemoglobin
<9.0 g/dL -> 1; CRP >3.0 mg/dL -> 1; ferritin <650 -> 0, 650-2000 -> 1, >2000 -> 2 ng/mL.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from .catalogue import load_catalogue

HELPER_COLUMNS = ("ldh_preld__uln", "ldh_apheresis__uln", "apheresis_date")
BENDAMUSTINE_RECENT_MONTHS = 9.0


def add_derived_features(frame: pd.DataFrame, landmark: str) -> pd.DataFrame:
    """Append the catalogue's derived features for ``landmark`` and drop helper columns.

    Args:
        frame: point-in-time frame with the landmark's window and patient columns, plus the
            helpers ``ldh_preld__uln``, ``ldh_apheresis__uln`` (ULN of the chosen LDH rows,
            canonical unit, NaN if absent), ``apheresis_date`` and ``infusion_date``.
        landmark: ``preinfusion`` or ``day30``.

    Returns:
        A new frame: the input columns (helpers removed) followed by the derived features,
        all float64.
    """
    catalogue = load_catalogue()
    out = frame.copy()
    for spec in catalogue.derived:
        if landmark in spec.landmarks:
            out[spec.name] = _DERIVATIONS[spec.name](out).astype("float64")
    helpers = [c for c in out.columns if c in HELPER_COLUMNS or c.startswith("_") or c.endswith("__uln")]
    return out.drop(columns=helpers)


def ldh_uln_ratio(frame: pd.DataFrame) -> pd.Series:
    """Pre-LD LDH over the centre's ULN; the apheresis LDH when the pre-LD value is missing."""
    default = load_catalogue().biomarker("ldh").default_uln
    preld = frame["ldh_preld"] / frame.get("ldh_preld__uln", _nan(frame)).fillna(default)
    apheresis = frame["ldh_apheresis"] / frame.get("ldh_apheresis__uln", _nan(frame)).fillna(default)
    return preld.fillna(apheresis)


def ipi(frame: pd.DataFrame) -> pd.Series:
    """IPI 0-5: age >60, LDH >ULN, ECOG >=2, stage III-IV, more than one extranodal site."""
    factors = [
        _flag(frame["age"], frame["age"] > 60),
        _flag(ldh_uln_ratio(frame), ldh_uln_ratio(frame) > 1),
        _flag(_ecog(frame), _ecog(frame) >= 2),
        _flag(frame["stage_apheresis"], frame["stage_apheresis"] >= 3),
        _flag(frame["extranodal_sites_apheresis"], frame["extranodal_sites_apheresis"] > 1),
    ]
    return _sum_or_nan(factors)


def aaipi(frame: pd.DataFrame) -> pd.Series:
    """Age-adjusted IPI 0-3: stage III-IV, LDH >ULN, ECOG >=2."""
    ratio = ldh_uln_ratio(frame)
    factors = [
        _flag(frame["stage_apheresis"], frame["stage_apheresis"] >= 3),
        _flag(ratio, ratio > 1),
        _flag(_ecog(frame), _ecog(frame) >= 2),
    ]
    return _sum_or_nan(factors)


def car_hematotox(frame: pd.DataFrame) -> pd.Series:
    """CAR-HEMATOTOX 0-7 from pre-LD platelets, ANC, haemoglobin, CRP and ferritin."""
    plt, anc = frame["platelets_preld"], frame["anc_preld"]
    hb, crp, ferritin = frame["hemoglobin_preld"], frame["crp_preld"], frame["ferritin_preld"]
    points = [
        _graded(plt, np.select([plt < 75, plt <= 175], [2.0, 1.0], 0.0)),
        _flag(anc, anc < 1.2),
        _flag(hb, hb < 9.0),
        _flag(crp, crp > 3.0),
        _graded(ferritin, np.select([ferritin > 2000, ferritin >= 650], [2.0, 1.0], 0.0)),
    ]
    return _sum_or_nan(points)


def easix(frame: pd.DataFrame) -> pd.Series:
    """EASIX = LDH (U/L) x creatinine (mg/dL) / platelets (10^9/L), pre-LD."""
    return _per_platelet(frame["ldh_preld"] * frame["creatinine_preld"], frame["platelets_preld"])


def m_easix(frame: pd.DataFrame) -> pd.Series:
    """m-EASIX = LDH (U/L) x CRP (mg/dL) / platelets (10^9/L), pre-LD."""
    return _per_platelet(frame["ldh_preld"] * frame["crp_preld"], frame["platelets_preld"])


def bendamustine_recent(frame: pd.DataFrame) -> pd.Series:
    """1 if bendamustine was given within 9 months before apheresis, 0 if not or never."""
    exposed, washout = frame["bendamustine_exposed_apheresis"], frame["bendamustine_washout_apheresis"]
    recent = pd.Series(np.where(washout < BENDAMUSTINE_RECENT_MONTHS, 1.0, 0.0), index=frame.index)
    recent[washout.isna()] = np.nan
    recent[exposed == 0] = 0.0
    recent[exposed.isna()] = np.nan
    return recent


def costim_cd28(frame: pd.DataFrame) -> pd.Series:
    """1 for axi-cel (CD28 costimulation), 0 for the 4-1BB products."""
    product = frame["product"]
    return pd.Series(np.where(product.isna(), np.nan, (product == "axi-cel").astype(float)), index=frame.index)


def vein_to_vein_days(frame: pd.DataFrame) -> pd.Series:
    """Calendar days from apheresis to infusion."""
    delta = pd.to_datetime(frame["infusion_date"]) - pd.to_datetime(frame["apheresis_date"])
    return delta.dt.days.astype("float64")


def ctdna_detected_day30(frame: pd.DataFrame) -> pd.Series:
    """1 if day-28 ctDNA is detectable (>0 hGE/mL), 0 if undetectable, NaN if not measured."""
    return _flag(frame["ctdna_day30"], frame["ctdna_day30"] > 0)


def car_peak_per_tmtv(frame: pd.DataFrame) -> pd.Series:
    """Peak CAR-T expansion (cells/uL) per mL of baseline tumour volume (floor 1 mL)."""
    return frame["car_peak_early"] / frame["tmtv_preld"].clip(lower=1.0)


def tmtv_change_day30(frame: pd.DataFrame) -> pd.Series:
    """log2 of (day-30 TMTV + 1) / (baseline TMTV + 1)."""
    return np.log2((frame["tmtv_day30"] + 1.0) / (frame["tmtv_preld"] + 1.0))


def _ecog(frame: pd.DataFrame) -> pd.Series:
    return frame["ecog_preld"].fillna(frame["ecog_apheresis"])


def _nan(frame: pd.DataFrame) -> pd.Series:
    return pd.Series(np.nan, index=frame.index)


def _flag(value: pd.Series, condition: pd.Series) -> pd.Series:
    """0/1 where ``value`` is known, NaN where it is missing."""
    return pd.Series(np.where(value.isna(), np.nan, condition.astype(float)), index=value.index)


def _graded(value: pd.Series, points: np.ndarray) -> pd.Series:
    return pd.Series(np.where(value.isna(), np.nan, points), index=value.index)


def _sum_or_nan(parts: list[pd.Series]) -> pd.Series:
    return pd.concat(parts, axis=1).sum(axis=1, min_count=len(parts))


def _per_platelet(numerator: pd.Series, platelets: pd.Series) -> pd.Series:
    return numerator / platelets.where(platelets > 0)


_DERIVATIONS: dict[str, Callable[[pd.DataFrame], pd.Series]] = {
    "ldh_uln_ratio": ldh_uln_ratio,
    "ipi": ipi,
    "aaipi": aaipi,
    "car_hematotox": car_hematotox,
    "easix": easix,
    "m_easix": m_easix,
    "bendamustine_recent": bendamustine_recent,
    "costim_cd28": costim_cd28,
    "vein_to_vein_days": vein_to_vein_days,
    "ctdna_detected_day30": ctdna_detected_day30,
    "car_peak_per_tmtv": car_peak_per_tmtv,
    "tmtv_change_day30": tmtv_change_day30,
}
