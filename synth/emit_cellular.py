"""Cellular rows: apheresis T-cell counts and phenotypes, product phenotype, CAR-T kinetics.

Counts and naive fractions follow T-cell fitness; CAR-T peak is the expansion latent (which grows
with tumour burden and whose effect on outcome is modest: see ``course``). Day-28 persistence falls
a little with the residual tumour it is fighting; day-7 CAR-Treg and PD-1 fractions rise with it
(Good 2022: CAR-Treg tied to progression, n=32; qualitative only, so both are weak views with their
own noise). Research panels exist only at some centres.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .centres import centre_attribute
from .cohort import Arrays
from .rows import RowBlock, Timing, draw, observe, window_days

_LAG = (1, 3)


def emit_cellular(rng: np.random.Generator, ctx: Arrays) -> list[RowBlock]:
    """Flow-cytometry rows.

    Args:
        rng: random generator.
        ctx: merged patient, history and course arrays.

    Returns:
        One block per biomarker and timepoint.
    """
    return _apheresis(rng, ctx) + _post(rng, ctx)


def _pct(rng: np.random.Generator, base: float, shift: NDArray[np.float64], sd: float) -> NDArray[np.float64]:
    """A percentage from a logit-normal: ``100 * sigmoid(logit(base) + shift + N(0, sd))``."""
    z = np.log(base / (1 - base)) + shift + sd * rng.normal(size=len(shift))
    pct: NDArray[np.float64] = 100.0 / (1.0 + np.exp(-z))
    return pct


def _apheresis(rng: np.random.Generator, ctx: Arrays) -> list[RowBlock]:
    n = len(ctx["age"])
    flow = centre_attribute(ctx["centre"], "flow")
    counted = draw(rng, 0.25 + flow, n)
    research = draw(rng, flow, n)
    fitness = ctx["fitness"]
    cd3 = 600.0 * np.exp(0.5 * fitness + 0.4 * rng.normal(size=n))
    cd4 = cd3 * _pct(rng, 0.55, np.zeros(n), 0.3) / 100
    cd8 = (cd3 - cd4) * _pct(rng, 0.85, np.zeros(n), 0.3) / 100
    kw: Timing = {"days": (-5, 0), "lag": _LAG, "window": window_days("apheresis"), "offset": -ctx["v2v"]}
    return [
        observe(rng, "cd3_count", cd3, present=counted, **kw),
        observe(rng, "cd4_count", cd4, present=counted & draw(rng, 0.9, n), **kw),
        observe(rng, "cd8_count", cd8, present=counted & draw(rng, 0.9, n), **kw),
        observe(rng, "cd8_naive_pct", _pct(rng, 0.25, 0.6 * fitness, 0.5), present=research, **kw),
        observe(rng, "monocyte_pct", _pct(rng, 0.15, 0.2 * ctx["inflammation"], 0.5), present=research, **kw),
    ]


def _post(rng: np.random.Generator, ctx: Arrays) -> list[RowBlock]:
    n = len(ctx["age"])
    infused = ctx["infused"]
    measured = infused & draw(rng, centre_attribute(ctx["centre"], "expansion"), n)
    research = infused & draw(rng, centre_attribute(ctx["centre"], "flow"), n)
    peak = np.exp(ctx["expansion"])
    tumour = ctx["tumour30"]
    day28 = peak * np.exp(-1.8 - 0.25 * tumour + 0.6 * rng.normal(size=n))
    return [
        observe(
            rng,
            "product_tn_pct",
            _pct(rng, 0.3, 0.5 * ctx["fitness"], 0.5),
            present=research | (infused & draw(rng, 0.03, n)),
            days=(0, 0),
            lag=(1, 7),
            window=window_days("infusion"),
        ),
        observe(
            rng,
            "car_peak",
            np.clip(peak, 0.05, 90000),
            present=measured,
            days=(7, 14),
            lag=_LAG,
            window=window_days("early"),
        ),
        observe(
            rng,
            "car_day28",
            np.clip(day28, 0.0, 90000),
            present=measured & draw(rng, 0.85, n),
            days=(26, 30),
            lag=_LAG,
            window=window_days("day30"),
        ),
        observe(
            rng,
            "car_treg_pct",
            _pct(rng, 0.08, 0.12 * tumour, 0.6),
            present=measured & research,
            days=(7, 8),
            lag=_LAG,
            window=window_days("early"),
        ),
        observe(
            rng,
            "pd1_pct",
            _pct(rng, 0.3, 0.1 * tumour, 0.6),
            present=measured & research,
            days=(7, 14),
            lag=_LAG,
            window=window_days("early"),
        ),
    ]
