"""The course from apheresis to outcome.

Bridging, infusion (or attrition), CAR-T expansion, post-infusion residual disease, and the true times of
progression and death.

What the registry records of these times (scheduled assessments, symptoms, loss to follow-up, the
data cut-off) is drawn in ``followup``; what each day-30 measurement sees of the residual disease is
drawn by its own measurement model (``pet``, ``emit_ctdna``, ``emit_labs``, ``emit_cellular``).

Days in the returned arrays are relative to the infusion date (day 0); for never-infused patients
they are relative to the planned infusion date.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .cohort import Arrays

BRIDGING_TYPES = ("none", "steroids", "systemic", "radiotherapy", "combined")
BRIDGING_RESPONSES = ("none", "CR", "PR", "SD", "PD")
LOG_CAR_PEAK_MEDIAN = float(np.log(16.0))

_V2V_MEDIAN = np.array([35.0, 43.0, 41.0])  # axi, tisa, liso (evidence 1: vein-to-vein time)
_BURDEN_SHIFT = np.array([0.25, -1.2, -0.6, 0.05, 0.45])  # by bridging response none/CR/PR/SD/PD
_EXPANSION_PRODUCT = np.array([0.3, -0.6, -0.1])
_RISK_PRODUCT = np.array([0.0, 0.66, 0.05])  # tisa-cel stays riskier after day 30 too
_FAIL_MEDIAN = np.array(
    [90.0, 38.0, 80.0]
)  # days: median time to early failure by product (tisa-cel fails early)
_FAIL_SIGMA = 0.75  # log-normal spread of early failure times
_EARLY_SCALE = 0.30
_LATE_RATE = 0.0002  # per day: slow late relapse
_NRM_1Y = 0.09
_UNSEEN_SD = 2.1  # post-infusion residual disease not predictable before infusion
# Part of that unseen disease is not yet present at day 30 (later escape, e.g. antigen loss): no
# day-30 view can see it. Frank 2021: ctDNA turned positive at or before radiographic relapse in
# 29/30, i.e. relapse announces itself in ctDNA, but not necessarily by day 28 [E for the size].
_EMERGENT_SD = 0.8


def sample_course(rng: np.random.Generator, patients: Arrays, history: Arrays) -> Arrays:
    """Draw what happens from apheresis on: bridging, infusion, expansion, residual disease, true event times.

    Args:
        rng: random generator.
        patients: output of ``sample_patients``.
        history: output of ``sample_history``.

    Returns:
        Arrays per patient: ``v2v``, ``infusion_day`` (absolute), ``infused``, ``dropout``
        (relative day of attrition, NaN if infused), ``bridging_type``, ``bridging_response``
        (level indices), ``burden_infusion``, ``expansion`` (log CAR peak), ``residual``
        (post-infusion log-hazard of progression), ``tumour30`` (the part of the residual disease
        present at day 30, which the day-30 measurements view), ``progression_latent`` (true time,
        inf if never, or the attrition day) and ``death_latent`` (true time of death).
    """
    out = _sample_bridging(rng, patients, history)
    out.update(_sample_attrition(rng, patients, history, out))
    out["expansion"] = _expansion(rng, patients, history, out)
    out["tumour30"] = _residual_disease(rng, patients, history, out)
    out["residual"] = out["tumour30"] + _EMERGENT_SD * rng.normal(size=len(out["v2v"]))
    out.update(_sample_outcome(rng, patients, history, out))
    return out


def _expansion(
    rng: np.random.Generator, patients: Arrays, history: Arrays, course: Arrays
) -> NDArray[np.float64]:
    """Log CAR-T peak (cells/uL), median about 16/uL (evidence 1e).

    Higher with T-cell fitness and the CD28 product, and with tumour burden (antigen drives
    expansion): Locke 2020 (ZUMA-1) found the peak scaled to tumour burden, not the raw peak, tied
    to durable response. The raw peak therefore carries a modest protective effect only (JULIET: per
    2x Cmax HR 0.79, 0.61-1.01; Blood Adv 2024: expansion tracked toxicity more than efficacy).
    """
    return (
        LOG_CAR_PEAK_MEDIAN
        + _EXPANSION_PRODUCT[patients["product"]]
        + 0.7 * history["fitness"]
        - 0.2 * history["inflammation"]
        + 0.2 * course["burden_infusion"]
        + 0.85 * rng.normal(size=len(course["v2v"]))
    )


def _sample_bridging(rng: np.random.Generator, patients: Arrays, history: Arrays) -> Arrays:
    """Vein-to-vein time, bridging type and response, and tumour burden at infusion."""
    n = len(patients["age"])
    burden = history["burden"]
    median = _V2V_MEDIAN[patients["product"]] + 4.0 * patients["eu"]
    v2v = np.clip(np.round(median * rng.gamma(9.0, 1 / 9.0, size=n) * 1.035), 21, 150).astype(np.int64)
    p_bridge = 1 / (1 + np.exp(-(np.where(patients["eu"], 1.7, 0.4) + 0.5 * burden)))
    bridged = rng.random(n) < p_bridge
    kind = 1 + np.searchsorted(np.cumsum([0.2, 0.5, 0.15]), rng.random(n))
    score = (
        -0.7 * burden
        - 0.5 * history["primary_refractory"]
        - 0.4 * history["tp53"]
        - 0.6 * (kind == 1)
        + rng.normal(size=n)
    )
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
    logit = (
        -3.1
        + 0.9 * history["burden"]
        + 0.8 * (course["bridging_response"] == 4)
        + 0.4 * history["primary_refractory"]
        + 0.35 * history["frailty"]
        + 0.01 * (course["v2v"] - 40)
    )
    infused = rng.random(n) >= 1 / (1 + np.exp(-logit))
    dropout = -np.floor(rng.uniform(2, course["v2v"] - 8)).astype(float)
    return {
        "infused": infused,
        "dropout": np.where(infused, np.nan, dropout),
        "infusion_day": patients["apheresis_day"] + course["v2v"],
    }


def _residual_disease(
    rng: np.random.Generator, patients: Arrays, history: Arrays, course: Arrays
) -> NDArray[np.float64]:
    """Residual disease at day 30 (log-hazard scale): pre-infusion risk, expansion, unseen noise.

    The unseen part (not predictable before infusion) is present at day 30 except for
    ``_EMERGENT_SD`` added later; total unseen SD stays ``_UNSEEN_SD``.
    """
    present_sd = float(np.sqrt(_UNSEEN_SD**2 - _EMERGENT_SD**2))
    four_one_bb = patients["product"] != 0
    bridging_failed = course["bridging_response"] >= 3
    residual: NDArray[np.float64] = (
        1.1 * course["burden_infusion"]
        + 0.55 * history["primary_refractory"]
        + history["tp53"] * (0.4 + 0.4 * four_one_bb)
        + 0.1 * history["inflammation"]
        + 0.2 * history["frailty"]
        + 0.6 * bridging_failed
        + _RISK_PRODUCT[patients["product"]]
        - 0.7 * (course["expansion"] - LOG_CAR_PEAK_MEDIAN)
        + present_sd * rng.normal(size=len(four_one_bb))
    )
    return residual


def _sample_outcome(rng: np.random.Generator, patients: Arrays, history: Arrays, course: Arrays) -> Arrays:
    """True progression and death times, relative to (planned) infusion.

    The centre's log hazard ratio (``centre_log_hr``) acts on both progression and non-relapse
    death, beyond anything a measurement sees (care after infusion, unrecorded case mix).
    """
    n = len(patients["age"])
    centre = patients["centre_log_hr"]
    progression = _progression_time(rng, course["residual"] + centre, patients["product"])
    age_z = (patients["age"] - 63.0) / 10.0
    nrm_h = -np.log(1 - _NRM_1Y) * np.exp(
        0.35 * age_z + 0.3 * history["frailty"] + 0.2 * history["inflammation"] - 0.1 + centre
    )
    nrm = 365.0 * (rng.exponential(size=n) / nrm_h) ** (1 / 0.7)
    after_progression = progression + rng.lognormal(np.log(220.0), 1.0, size=n)
    dropout = course["dropout"]
    never = ~course["infused"]
    progression = np.where(never, dropout, progression)
    dies_waiting = never & (rng.random(n) < 0.15)
    death = np.where(nrm < progression, nrm, after_progression)
    death = np.where(
        never, np.where(dies_waiting, dropout, dropout + rng.lognormal(np.log(90), 0.8, n)), death
    )
    progression = np.where(dies_waiting | ((nrm < progression) & ~never), np.inf, progression)
    return {"progression_latent": progression, "death_latent": death}


def _progression_time(
    rng: np.random.Generator, residual: NDArray[np.float64], product: NDArray[np.int64]
) -> NDArray[np.float64]:
    """Time to progression: a cure-type mixture driven by residual disease.

    A patient fails early with probability ``1 - exp(-s e^r)``; the failure time is log-normal
    with a product-specific median, earlier for more residual disease. Everyone also carries a
    small late-relapse hazard ``rate * e^(r / 2)``.
    """
    n = len(residual)
    fails = rng.random(n) < -np.expm1(-_EARLY_SCALE * np.exp(residual))
    log_t = np.log(_FAIL_MEDIAN[product]) - 0.3 * residual + _FAIL_SIGMA * rng.normal(size=n)
    late = rng.exponential(size=n) / (_LATE_RATE * np.exp(residual / 2))
    time: NDArray[np.float64] = np.maximum(np.where(fails, np.minimum(np.exp(log_t), late), late), 1.0)
    return time
