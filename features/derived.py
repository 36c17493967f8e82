"""Derived features and published clinical scores, computed from a point-in-time frame.

Definitions follow docs/evidence.md section 3 ("Clinical scores and derived features"). Every score
uses pre-lymphodepletion values (apheresis values where the catalogue says so, or as a documented
fallback). A score whose inputs are missing is missing (NaN); it is never silently scored as normal.

Boundary conventions (docs/evidence.md section 3.3: CAR-HEMATOTOX inclusivity is unconfirmed [M]); we use:
platelets <75 -> 2, 75-175 -> 1, >175 -> 0 (x10^9/L); ANC <1.2 x10^9/L -> 1; haemoglobin
<9.0 g/dL -> 1; CRP >3.0 mg/dL -> 1; ferritin <650 -> 0, 650-2000 -> 1, >2000 -> 2 ng/mL.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from .catalogue import load_catalogue

HELPER_COLUMNS = ("ldh_preld__uln", "ldh_apheresis__uln", "apheresis_date")
BENDAMUSTINE_RECENT_MONTHS = 9.0
NAN = np.nan
FloatArray = NDArray[np.float64]


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
    derived = derive_values(Columns(frame), landmark)
    helpers = [c for c in frame.columns if c in HELPER_COLUMNS or c.startswith("_") or c.endswith("__uln")]
    out = frame.drop(columns=helpers)
    return out.assign(**derived)


def derive_values(columns: Mapping[str, FloatArray], landmark: str) -> dict[str, FloatArray]:
    """The derived features of ``landmark`` from plain arrays (the one implementation; no pandas per row).

    Args:
        columns: column name -> array (floats; ``product`` as objects; dates as datetime64).
            Absent columns count as missing.
        landmark: ``preinfusion`` or ``day30``.

    Returns:
        Derived feature name -> float64 array, in catalogue order.
    """
    n = max((np.size(v) for v in columns.values()), default=1)
    return {
        spec.name: np.broadcast_to(
            np.asarray(_DERIVATIONS[spec.name](columns), dtype=np.float64), (n,)
        ).copy()
        for spec in load_catalogue().derived
        if landmark in spec.landmarks
    }


class Columns(Mapping[str, FloatArray]):
    """Read-only view of a frame's columns as numpy arrays, converted once on first use."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self._frame = frame
        self._cache: dict[str, FloatArray] = {}

    def __getitem__(self, name: str) -> FloatArray:
        if name not in self._cache:
            if name not in self._frame.columns:
                self._cache[name] = np.full(len(self._frame), NAN)
            else:
                column = self._frame[name]
                kind = column.dtype.kind
                self._cache[name] = (
                    column.to_numpy() if kind in "OMUS" else column.to_numpy(dtype=np.float64, na_value=NAN)
                )
        return self._cache[name]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._frame.columns)

    def __len__(self) -> int:
        return len(self._frame.columns)


def ldh_uln_ratio(c: Mapping[str, FloatArray]) -> FloatArray:
    """Pre-LD LDH over the centre's ULN; the apheresis LDH when the pre-LD value is missing."""
    default = load_catalogue().biomarker("ldh").default_uln
    preld = _get(c, "ldh_preld") / _fill(_get(c, "ldh_preld__uln"), default)
    apheresis = _get(c, "ldh_apheresis") / _fill(_get(c, "ldh_apheresis__uln"), default)
    return np.where(np.isnan(preld), apheresis, preld)


def ipi(c: Mapping[str, FloatArray]) -> FloatArray:
    """IPI 0-5: age >60, LDH >ULN, ECOG >=2, stage III-IV, more than one extranodal site."""
    age, ratio, ecog = _get(c, "age"), ldh_uln_ratio(c), _ecog(c)
    stage, sites = _get(c, "stage_apheresis"), _get(c, "extranodal_sites_apheresis")
    return (
        _flag(age, age > 60)
        + _flag(ratio, ratio > 1)
        + _flag(ecog, ecog >= 2)
        + _flag(stage, stage >= 3)
        + _flag(sites, sites > 1)
    )


def aaipi(c: Mapping[str, FloatArray]) -> FloatArray:
    """Age-adjusted IPI 0-3: stage III-IV, LDH >ULN, ECOG >=2."""
    ratio, ecog, stage = ldh_uln_ratio(c), _ecog(c), _get(c, "stage_apheresis")
    return _flag(stage, stage >= 3) + _flag(ratio, ratio > 1) + _flag(ecog, ecog >= 2)


def car_hematotox(c: Mapping[str, FloatArray]) -> FloatArray:
    """CAR-HEMATOTOX 0-7 from pre-LD platelets, ANC, haemoglobin, CRP and ferritin."""
    plt, anc, hb = _get(c, "platelets_preld"), _get(c, "anc_preld"), _get(c, "hemoglobin_preld")
    crp, ferritin = _get(c, "crp_preld"), _get(c, "ferritin_preld")
    platelet_points = np.select([plt < 75, plt <= 175], [2.0, 1.0], 0.0)
    ferritin_points = np.select([ferritin > 2000, ferritin >= 650], [2.0, 1.0], 0.0)
    return (
        _graded(plt, platelet_points)
        + _flag(anc, anc < 1.2)
        + _flag(hb, hb < 9.0)
        + _flag(crp, crp > 3.0)
        + _graded(ferritin, ferritin_points)
    )


def easix(c: Mapping[str, FloatArray]) -> FloatArray:
    """EASIX = LDH (U/L) x creatinine (mg/dL) / platelets (10^9/L), pre-LD."""
    return _per_platelet(_get(c, "ldh_preld") * _get(c, "creatinine_preld"), _get(c, "platelets_preld"))


def m_easix(c: Mapping[str, FloatArray]) -> FloatArray:
    """m-EASIX = LDH (U/L) x CRP (mg/dL) / platelets (10^9/L), pre-LD."""
    return _per_platelet(_get(c, "ldh_preld") * _get(c, "crp_preld"), _get(c, "platelets_preld"))


def bendamustine_recent(c: Mapping[str, FloatArray]) -> FloatArray:
    """1 if bendamustine was given within 9 months before apheresis, 0 if not or never."""
    exposed, washout = _get(c, "bendamustine_exposed_apheresis"), _get(c, "bendamustine_washout_apheresis")
    recent = np.where(np.isnan(washout), NAN, (washout < BENDAMUSTINE_RECENT_MONTHS).astype(float))
    recent = np.where(exposed == 0, 0.0, recent)
    return np.where(np.isnan(exposed), NAN, recent)


def costim_cd28(c: Mapping[str, FloatArray]) -> FloatArray:
    """1 for axi-cel (CD28 costimulation), 0 for the 4-1BB products."""
    product = np.asarray(c["product"], dtype=object) if "product" in c else np.array([None])
    return np.where(pd.isna(product), NAN, (product == "axi-cel").astype(float))


def vein_to_vein_days(c: Mapping[str, FloatArray]) -> FloatArray:
    """Calendar days from apheresis to infusion."""
    if "infusion_date" not in c or "apheresis_date" not in c:
        return np.array([NAN])
    infusion = np.asarray(c["infusion_date"]).ravel().astype("datetime64[D]")
    apheresis = np.asarray(c["apheresis_date"]).ravel().astype("datetime64[D]")
    days = infusion - apheresis
    return np.where(np.isnat(days), NAN, days.astype(np.int64).astype(float))


def ctdna_detected_day30(c: Mapping[str, FloatArray]) -> FloatArray:
    """1 if day-28 ctDNA is detectable (>0 hGE/mL), 0 if undetectable, NaN if not measured."""
    ctdna = _get(c, "ctdna_day30")
    return _flag(ctdna, ctdna > 0)


def car_peak_per_tmtv(c: Mapping[str, FloatArray]) -> FloatArray:
    """Peak CAR-T expansion (cells/uL) per mL of baseline tumour volume (floor 1 mL)."""
    volume: FloatArray = np.maximum(_get(c, "tmtv_preld"), 1.0)
    return _get(c, "car_peak_early") / volume


def tmtv_change_day30(c: Mapping[str, FloatArray]) -> FloatArray:
    """log2 of (day-30 TMTV + 1) / (baseline TMTV + 1)."""
    return np.log2((_get(c, "tmtv_day30") + 1.0) / (_get(c, "tmtv_preld") + 1.0))


def _get(c: Mapping[str, FloatArray], name: str) -> FloatArray:
    return np.asarray(c[name], dtype=np.float64) if name in c else np.array([NAN])


def _fill(values: FloatArray, default: float | None) -> FloatArray:
    return np.where(np.isnan(values), NAN if default is None else default, values)


def _ecog(c: Mapping[str, FloatArray]) -> FloatArray:
    preld = _get(c, "ecog_preld")
    return np.where(np.isnan(preld), _get(c, "ecog_apheresis"), preld)


def _flag(value: FloatArray, condition: NDArray[np.bool_]) -> FloatArray:
    """0/1 where ``value`` is known, NaN where it is missing."""
    return np.where(np.isnan(value), NAN, condition.astype(float))


def _graded(value: FloatArray, points: FloatArray) -> FloatArray:
    return np.where(np.isnan(value), NAN, points)


def _per_platelet(numerator: FloatArray, platelets: FloatArray) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        known: FloatArray = np.where(platelets > 0, platelets, NAN)
        return numerator / known


_DERIVATIONS: dict[str, Callable[[Mapping[str, FloatArray]], FloatArray]] = {
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
