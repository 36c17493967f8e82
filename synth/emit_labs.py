"""Laboratory rows: pre-LD, infusion-day, post-infusion and out-of-window labs.

Values are driven by the latents: LDH by tumour burden, CRP/ferritin/albumin/IL-6 by
inflammation, lymphocytes by T-cell fitness.

Day-30 labs are weak, noisy views. No published effect size exists for day-30 LDH, platelets or
ANC after CAR-T (evidence.md sections 1a and 4), so they must not out-predict the day-30 PET: LDH
at day 30 rises with CAR-T inflammation and marrow recovery as much as with the small residual
tumour (a univariable AUROC for 12-month failure of at most 0.65 is the check); day-30 platelets
and ANC reflect marrow reserve and inflammation (CAR-HEMATOTOX biology), not tumour.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .centres import centre_attribute
from .cohort import Arrays
from .course import BRIDGING_RESPONSES, BRIDGING_TYPES
from .latents import ecog_from_frailty
from .rows import RowBlock, Timing, Values, draw, observe, window_days

_LAB_LAG = (0, 1)


def emit_labs(rng: np.random.Generator, ctx: Arrays) -> list[RowBlock]:
    """All laboratory and bedside rows.

    Args:
        rng: random generator.
        ctx: merged patient, history and course arrays.

    Returns:
        One block per biomarker and timepoint.
    """
    return (
        _apheresis(rng, ctx) + _preld(rng, ctx) + _infusion(rng, ctx) + _post(rng, ctx) + _outside(rng, ctx)
    )


def _ldh(rng: np.random.Generator, ctx: Arrays, log2_ratio: NDArray[np.float64]) -> NDArray[np.float64]:
    """LDH in U/L from a log2 ratio to the centre's ULN."""
    return centre_attribute(ctx["centre"], "ldh_uln") * 2.0**log2_ratio


def _lognormal(
    rng: np.random.Generator, median: float | NDArray[np.float64], shift: NDArray[np.float64], sd: float
) -> NDArray[np.float64]:
    """``median * exp(shift + N(0, sd))``."""
    return median * np.exp(shift + sd * rng.normal(size=len(shift)))


def _apheresis(rng: np.random.Generator, ctx: Arrays) -> list[RowBlock]:
    n = len(ctx["age"])
    ldh = _ldh(rng, ctx, -0.05 + 0.16 * ctx["burden"] + 0.1 * ctx["inflammation"] + 0.6 * rng.normal(size=n))
    alc = _lognormal(rng, 0.85, 0.35 * ctx["fitness"], 0.45)
    kw: Timing = {"days": (-5, 0), "lag": _LAB_LAG, "window": window_days("apheresis"), "offset": -ctx["v2v"]}
    return [
        observe(rng, "ldh", ldh, present=draw(rng, 0.88, n), **kw),
        observe(rng, "alc", alc, present=draw(rng, 0.85, n), **kw),
    ]


def _preld(rng: np.random.Generator, ctx: Arrays) -> list[RowBlock]:
    n = len(ctx["age"])
    burden, infl = ctx["burden_infusion"], ctx["inflammation"]
    growth = burden - ctx["burden"]
    frailty = ctx["frailty"] + 0.4 * growth + 0.3 * rng.normal(size=n)
    crp_missing = np.where(np.isin(ctx["centre"], [1, 3]), 0.3, 0.12)
    ferritin_missing = np.where(ctx["eu"], 0.15, 0.32)
    values: dict[str, tuple[Values, float | NDArray[np.float64]]] = {
        "ecog": (ecog_from_frailty(frailty).astype(float), 0.96),
        "ldh": (_ldh(rng, ctx, 0.0 + 0.16 * burden + 0.1 * infl + 0.62 * rng.normal(size=n)), 0.93),
        "crp": (_lognormal(rng, 1.5, 1.1 * infl + 0.05 * burden, 0.8), 1 - crp_missing),
        "ferritin": (
            _lognormal(rng, np.where(ctx["eu"], 600.0, 400.0), 0.75 * infl, 0.65),
            1 - ferritin_missing,
        ),
        "albumin": (3.7 - 0.25 * infl - 0.1 * ctx["frailty"] + 0.3 * rng.normal(size=n), 0.9),
        "platelets": (_platelets(rng, ctx, 165.0), 0.97),
        "anc": (_lognormal(rng, 2.8, -0.1 * infl - 0.08 * ctx["prior_lines"], 0.5), 0.97),
        "alc": (_lognormal(rng, 0.6, 0.35 * ctx["fitness"] - 0.1 * infl, 0.5), 0.94),
        "hemoglobin": (
            10.9 - 0.5 * infl - 0.25 * burden - 0.1 * ctx["prior_lines"] + 1.2 * rng.normal(size=n),
            0.97,
        ),
        "creatinine": (
            _lognormal(rng, np.where(ctx["male"], 0.95, 0.78), 0.05 * (ctx["age"] - 63) / 10, 0.25),
            0.96,
        ),
        "bilirubin": (_lognormal(rng, 0.55, 0.05 * infl, 0.4), 0.92),
        "il6": (_lognormal(rng, 8.0, 0.9 * infl, 0.8), centre_attribute(ctx["centre"], "il6")),
        "bridging_type": (np.array(BRIDGING_TYPES, dtype=object)[ctx["bridging_type"]], 0.97),
    }
    kw: Timing = {"days": (-8, -4), "lag": _LAB_LAG, "window": window_days("preld")}
    blocks = [observe(rng, k, v, present=draw(rng, p, n), **kw) for k, (v, p) in values.items()]
    response_known = (ctx["bridging_type"] == 0) | draw(rng, 0.72, n)
    response = np.array(BRIDGING_RESPONSES, dtype=object)[ctx["bridging_response"]]
    blocks.append(
        observe(
            rng,
            "bridging_response",
            response,
            present=response_known & draw(rng, 0.97, n),
            days=(-14, -4),
            lag=(0, 3),
            window=window_days("preld"),
        )
    )
    return blocks


def _platelets(rng: np.random.Generator, ctx: Arrays, median: float) -> NDArray[np.float64]:
    """Platelets (10^9/L): lower with inflammation, more prior lines and bendamustine."""
    shift = -0.25 * ctx["inflammation"] - 0.12 * (ctx["prior_lines"] - 2) - 0.2 * ctx["benda_exposed"]
    return _lognormal(rng, median, shift, 0.45)


def _infusion(rng: np.random.Generator, ctx: Arrays) -> list[RowBlock]:
    n = len(ctx["age"])
    infl = ctx["inflammation"]
    kw: Timing = {"days": (-1, 0), "lag": _LAB_LAG, "window": window_days("infusion")}
    crp = _lognormal(rng, 1.9, 1.1 * infl + 0.15 * ctx["burden_infusion"], 0.85)
    ferritin = _lognormal(rng, np.where(ctx["eu"], 700.0, 480.0), 0.8 * infl, 0.65)
    drawn = draw(rng, 0.6, n)
    return [
        observe(rng, "crp", crp, present=drawn & draw(rng, 0.9, n), **kw),
        observe(rng, "ferritin", ferritin, present=drawn & draw(rng, 0.7, n), **kw),
    ]


def _post(rng: np.random.Generator, ctx: Arrays) -> list[RowBlock]:
    n = len(ctx["age"])
    infused = ctx["infused"]
    il6 = _lognormal(rng, 35.0, 0.6 * (ctx["expansion"] - 2.77) + 0.4 * ctx["burden_infusion"], 1.0)
    progressed = ctx["progression_latent"] <= 28
    # [E] no published effect: a trace of residual tumour and inflammation under much noise (univariable
    # 12-month AUROC about 0.53 on the demo registry, vs about 0.60 for Deauville; python -m synth.signal).
    ldh30 = _ldh(
        rng,
        ctx,
        -0.25
        + 0.02 * ctx["tumour30"]
        + 0.1 * ctx["inflammation"]
        + 0.8 * progressed
        + 0.45 * rng.normal(size=n),
    )
    kw30: Timing = {"days": (26, 30), "lag": _LAB_LAG, "window": window_days("day30")}
    return [
        observe(
            rng,
            "il6",
            il6,
            present=infused & draw(rng, centre_attribute(ctx["centre"], "il6"), n),
            days=(7, 10),
            lag=(0, 2),
            window=window_days("early"),
        ),
        observe(rng, "ldh", ldh30, present=infused & draw(rng, 0.85, n), **kw30),
        observe(rng, "platelets", _platelets(rng, ctx, 95.0), present=infused & draw(rng, 0.9, n), **kw30),
        observe(
            rng,
            "anc",
            _lognormal(rng, 1.6, -0.2 * ctx["inflammation"], 0.6),
            present=infused & draw(rng, 0.9, n),
            **kw30,
        ),
    ]


def _outside(rng: np.random.Generator, ctx: Arrays) -> list[RowBlock]:
    """Labs that exist in registries but fall outside every window (CRS monitoring, follow-up)."""
    n = len(ctx["age"])
    infused = ctx["infused"]
    blocks = [
        observe(
            rng,
            "crp",
            _lognormal(rng, 6.0, 0.5 * ctx["inflammation"] + 0.4 * (ctx["expansion"] - 2.77), 0.8),
            present=infused & draw(rng, 0.45, n),
            days=(2, 5),
            lag=_LAB_LAG,
            window=None,
        )
    ]
    for day in (60, 90):
        progressed = ctx["progression_latent"] <= day
        ldh = _ldh(rng, ctx, -0.2 + 1.0 * progressed + 0.4 * rng.normal(size=n))
        blocks.append(
            observe(
                rng,
                "ldh",
                ldh,
                present=infused & draw(rng, 0.6, n),
                days=(day - 3, day + 3),
                lag=_LAB_LAG,
                window=None,
            )
        )
        blocks.append(
            observe(
                rng,
                "platelets",
                _platelets(rng, ctx, 140.0),
                present=infused & draw(rng, 0.5, n),
                days=(day - 3, day + 3),
                lag=_LAB_LAG,
                window=None,
            )
        )
    return blocks
