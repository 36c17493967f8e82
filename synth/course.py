"""The course from apheresis to outcome: bridging, infusion (or attrition), CAR-T expansion,
post-infusion residual disease, progression, non-relapse death and censoring.

Days in the returned arrays are relative to the infusion date (day 0); for never-infused patients
they are relative to the planned infusion date.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .cohort import DATA_CUTOFF, Arrays

BRIDGING_TYPES = ("none", "steroids", "systemic", "radiotherapy", "combined")
BRIDGING_RESPONSES = ("none", "CR", "PR", "SD", "PD")
LOG_CAR_PEAK_MEDIAN = float(np.log(16.0))

_V2V_MEDIAN = np.array([35.0, 43.0, 41.0])  # axi, tisa, liso (evidence 1: vein-to-vein time)
_BURDEN_SHIFT = np.array([0.25, -1.2, -0.6, 0.05, 0.45])  # by bridging response none/CR/PR/SD/PD
_EXPANSION_PRODUCT = np.array([0.3, -0.6, -0.1])
_RISK_PRODUCT = np.array([0.0, 0.66, 0.05])  # tisa-cel stays riskier after day 30 too
_FAIL_MEDIAN = np.array([115.0, 60.0, 100.0])  # days: median time to early failure by product (tisa-cel fails early)
_EARLY_SCALE = 0.29
_LATE_RATE = 0.00035  # per day: slow late relapse
_NRM_1Y = 0.09
_UNSEEN_SD = 2.1  # post-infusion residual disease not predictable before infusion


def sample_course(rng: np.random.Generator, patients: Arrays, history: Arrays) -> Arrays:
    """Draw everything that happens from apheresis to the end of follow-up.

    Args:
        rng: random generator.
        patients: output of ``sample_patients``.
        history: output of ``sample_history``.

    Returns:
        Arrays per patient: ``v2v``, ``infusion_day`` (absolute), ``infused``, ``dropout``
        (relative day of attrition, NaN if infused), ``bridging_type``, ``bridging_response``
        (level indices), ``burden_infusion``, ``expansion`` (log CAR peak), ``residual``
        (post-infusion log-hazard of progression), ``seen_day30`` (residual disease as visible at
        day 30), ``progression_latent`` (true time, inf if never), ``progression`` / ``death`` /
        ``last_followup`` (relative days, NaN when not observed) and ``obs_end`` (last relative day
        on which an observation can exist).
    """
    out = _sample_bridging(rng, patients, history)
    out.update(_sample_attrition(rng, patients, history, out))
    out["expansion"] = (
        LOG_CAR_PEAK_MEDIAN + _EXPANSION_PRODUCT[patients["product"]] + 0.7 * history["fitness"]
        - 0.2 * history["inflammation"] + 0.2 * out["burden_infusion"] + 0.85 * rng.normal(size=len(out["v2v"]))
    )
    out["residual"] = _residual_disease(rng, patients, history, out)
    out["seen_day30"] = out["residual"] + 0.15 * rng.normal(size=len(out["v2v"]))
    out.update(_sample_outcome(rng, patients, history, out))
    return out


def _sample_bridging(rng: np.random.Generator, patients: Arrays, history: Arrays) -> Arrays:
    """Vein-to-vein time, bridging type and response, and tumour burden at infusion."""
    n = len(patients["age"])
    burden = history["burden"]
    median = _V2V_MEDIAN[patients["product"]] + 4.0 * patients["eu"]
    v2v = np.clip(np.round(median * rng.gamma(9.0, 1 / 9.0, size=n) * 1.035), 21, 150).astype(np.int64)
    p_bridge = 1 / (1 + np.exp(-(np.where(patients["eu"], 1.7, 0.4) + 0.5 * burden)))
    bridged = rng.random(n) < p_bridge
    kind = 1 + np.searchsorted(np.cumsum([0.2, 0.5, 0.15]), rng.random(n))
    score = (-0.7 * burden - 0.5 * history["primary_refractory"] - 0.4 * history["tp53"]
             - 0.6 * (kind == 1) + rng.normal(size=n))
    response = np.where(bridged, 4 - np.searchsorted([-0.6, 0.3, 1.3], score), 0)  # 1 CR .. 4 PD
    shift = _BURDEN_SHIFT[response] + 0.004 * (v2v - 40)
    return {
        "v2v": v2v,
        "bridging_type": np.where(bridged, kind, 0),
        "bridging_response": response,
        "burden_infusion": burden + shift + 0.3 * rng.normal(size=n),
    }


def _sample_attrition(rng: np.random.Generator, patients: Arrays, history: Arrays, course: Arrays) -> Arrays:
    """Apheresed but never infused (progression or death while waiting): about 8-15%."""
    n = len(patients["age"])
    logit = (-3.1 + 0.9 * history["burden"] + 0.8 * (course["bridging_response"] == 4)
             + 0.4 * history["primary_refractory"] + 0.35 * history["frailty"] + 0.01 * (course["v2v"] - 40))
    infused = rng.random(n) >= 1 / (1 + np.exp(-logit))
    dropout = -np.floor(rng.uniform(2, course["v2v"] - 8)).astype(float)
    return {
        "infused": infused,
        "dropout": np.where(infused, np.nan, dropout),
        "infusion_day": patients["apheresis_day"] + course["v2v"],
    }


def _residual_disease(rng: np.random.Generator, patients: Arrays, history: Arrays, course: Arrays) -> NDArray:
    """Post-infusion log-hazard of progression: pre-infusion risk, expansion and unseen noise."""
    four_one_bb = patients["product"] != 0
    bridging_failed = course["bridging_response"] >= 3
    return (
        1.1 * course["burden_infusion"] + 0.55 * history["primary_refractory"]
        + history["tp53"] * (0.4 + 0.4 * four_one_bb) + 0.1 * history["inflammation"]
        + 0.2 * history["frailty"] + 0.6 * bridging_failed + _RISK_PRODUCT[patients["product"]]
        - 0.7 * (course["expansion"] - LOG_CAR_PEAK_MEDIAN) + _UNSEEN_SD * rng.normal(size=len(four_one_bb))
    )


def _sample_outcome(rng: np.random.Generator, patients: Arrays, history: Arrays, course: Arrays) -> Arrays:
    """Progression, death and follow-up, relative to (planned) infusion."""
    n = len(patients["age"])
    progression = _progression_time(rng, course["residual"], patients["product"])
    age_z = (patients["age"] - 63.0) / 10.0
    nrm_h = -np.log(1 - _NRM_1Y) * np.exp(0.35 * age_z + 0.3 * history["frailty"] + 0.2 * history["inflammation"] - 0.1)
    nrm = 365.0 * (rng.exponential(size=n) / nrm_h) ** (1 / 0.7)
    after_progression = progression + rng.lognormal(np.log(220.0), 1.0, size=n)
    dropout = course["dropout"]
    never = ~course["infused"]
    progression = np.where(never, dropout, progression)
    dies_waiting = never & (rng.random(n) < 0.15)
    death = np.where(nrm < progression, nrm, after_progression)
    death = np.where(never, np.where(dies_waiting, dropout, dropout + rng.lognormal(np.log(90), 0.8, n)), death)
    progression = np.where(dies_waiting | ((nrm < progression) & ~never), np.inf, progression)
    cutoff = (DATA_CUTOFF.astype(int) - course["infusion_day"]).astype(float)
    end = np.minimum(cutoff, rng.exponential(365 / 0.05, size=n))
    return {
        "progression_latent": progression,
        "progression": np.where(progression <= end, np.floor(progression), np.nan),
        "death": np.where(death <= end, np.floor(death), np.nan),
        "last_followup": np.floor(np.minimum(end, death)),
        "obs_end": np.where(never, dropout, np.floor(np.minimum(end, death))),
    }


def _progression_time(rng: np.random.Generator, residual: NDArray, product: NDArray) -> NDArray:
    """Time to progression: a cure-type mixture driven by residual disease.

    A patient fails early with probability ``1 - exp(-s e^r)``; the failure time is log-normal
    with a product-specific median, earlier for more residual disease. Everyone also carries a
    small late-relapse hazard ``rate * e^(r / 2)``.
    """
    n = len(residual)
    fails = rng.random(n) < -np.expm1(-_EARLY_SCALE * np.exp(residual))
    log_t = np.log(_FAIL_MEDIAN[product]) - 0.3 * residual + 0.6 * rng.normal(size=n)
    late = rng.exponential(size=n) / (_LATE_RATE * np.exp(residual / 2))
    return np.maximum(np.where(fails, np.minimum(np.exp(log_t), late), late), 1.0)
