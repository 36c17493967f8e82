"""FDG-PET rows: baseline (pre-LD) scan, day-30 scan with Deauville score, and day-90 follow-up.

Baseline TMTV/SUVmax/TLG follow tumour burden at infusion. The day-30 scan reads the residual
disease visible at day 30 plus an inflammatory flare (residual uptake that is not tumour).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .centres import centre_attribute
from .cohort import Arrays
from .rows import RowBlock, draw, observe, window_days

# Cut-points of the day-30 PET score on the visible-residual scale: DS1-2 | DS3 | DS4 | DS5.
DEAUVILLE_CUTS = (-0.6, 1.05, 5.05)
READER_SD = 1.0
_PET_LAG = (0, 3)


def emit_imaging(rng: np.random.Generator, ctx: Arrays) -> list[RowBlock]:
    """Baseline, day-30 and day-90 PET rows.

    Args:
        rng: random generator.
        ctx: merged patient, history and course arrays.

    Returns:
        One block per biomarker and timepoint.
    """
    return _baseline(rng, ctx) + _day30(rng, ctx) + _day90(rng, ctx)


def _baseline(rng: np.random.Generator, ctx: Arrays) -> list[RowBlock]:
    n = len(ctx["age"])
    burden = ctx["burden_infusion"]
    tmtv = np.clip(190.0 * np.exp(1.2 * burden + 0.45 * rng.normal(size=n)), 1.0, 16000.0)
    suvmax = np.clip(15.0 * np.exp(0.25 * burden + 0.15 * ctx["primary_refractory"] + 0.35 * rng.normal(size=n)),
                     2.5, 120.0)
    tlg = tmtv * suvmax * 0.42 * np.exp(0.15 * rng.normal(size=n))
    scanned = draw(rng, 0.8, n)
    segmented = scanned & draw(rng, centre_attribute(ctx["centre"], "tmtv") + 0.1, n)
    kw = {"days": (-14, -3), "lag": _PET_LAG, "window": window_days("preld")}
    return [
        observe(rng, "tmtv", tmtv, present=segmented, **kw),
        observe(rng, "tlg", tlg, present=segmented & draw(rng, 0.85, n), **kw),
        observe(rng, "suvmax", suvmax, present=scanned & draw(rng, 0.9, n), **kw),
    ]


def deauville_from_signal(rng: np.random.Generator, signal: NDArray) -> NDArray[np.int64]:
    """Deauville 1-5 from the visible-residual signal (DS1 vs DS2 split at random, 40/60).

    Args:
        rng: random generator.
        signal: residual disease seen on PET (higher is more disease).

    Returns:
        Deauville scores.
    """
    band = np.searchsorted(DEAUVILLE_CUTS, signal)  # 0: DS1-2, 1: DS3, 2: DS4, 3: DS5
    return np.where(band == 0, np.where(rng.random(len(signal)) < 0.4, 1, 2), band + 2)


def pet_signal(rng: np.random.Generator, ctx: Arrays, progressed: NDArray[np.bool_]) -> NDArray:
    """What the day-30 PET sees: visible residual disease, inflammatory uptake, progression.

    About 10% of patients have an inflammatory flare (residual uptake that is not tumour, Dean
    2023), which makes Deauville 4-5 less specific than ctDNA.

    Args:
        rng: random generator.
        ctx: merged patient arrays.
        progressed: progression before the scan (always read as disease).

    Returns:
        The signal on the residual-disease scale, before reader noise.
    """
    n = len(progressed)
    flare = (rng.random(n) < 0.10) * rng.uniform(1.5, 5.5, size=n)
    return ctx["seen_day30"] + 0.45 * ctx["inflammation"] + flare + 3.0 * progressed


def deauville_signal(rng: np.random.Generator, signal: NDArray) -> NDArray:
    """The visual Deauville read: the PET signal plus reader noise (coarser than SUVmax)."""
    return signal + READER_SD * rng.normal(size=len(signal))


def _day30(rng: np.random.Generator, ctx: Arrays) -> list[RowBlock]:
    n = len(ctx["age"])
    progressed = ctx["progression_latent"] <= 27
    signal = pet_signal(rng, ctx, progressed)
    ds = deauville_from_signal(rng, deauville_signal(rng, signal))
    quantitative = signal + 0.25 * rng.normal(size=n)  # SUVmax and TMTV: finer than the visual score
    over = quantitative - DEAUVILLE_CUTS[2]
    suv = 2.5 * np.exp(0.3 * (quantitative - DEAUVILLE_CUTS[0]) + 0.12 * rng.normal(size=n))
    tmtv = np.where(ds <= 3, 0.0, np.exp(np.log(np.where(ds == 4, 12.0, 60.0)) + 0.8 * over + 0.6 * rng.normal(size=n)))
    scanned = ctx["infused"] & draw(rng, np.where(progressed, 0.3, 0.86), n)
    segmented = scanned & draw(rng, centre_attribute(ctx["centre"], "tmtv") + 0.15, n)
    kw = {"days": (24, 30), "lag": _PET_LAG, "window": window_days("day30")}
    return [
        observe(rng, "deauville", ds.astype(float), present=scanned & draw(rng, 0.97, n), **kw),
        observe(rng, "suvmax", np.clip(suv, 0.5, 140.0), present=scanned & draw(rng, 0.85, n), **kw),
        observe(rng, "tmtv", np.clip(tmtv, 0.0, 15000.0), present=segmented, **kw),
    ]


def _day90(rng: np.random.Generator, ctx: Arrays) -> list[RowBlock]:
    """Month-3 PET: outside every window; must never reach a feature frame."""
    n = len(ctx["age"])
    progressed = ctx["progression_latent"] <= 90
    ds = np.where(progressed, 5, deauville_from_signal(rng, ctx["seen_day30"] - 1.0 + 0.5 * rng.normal(size=n)))
    scanned = ctx["infused"] & draw(rng, 0.55, n)
    kw = {"days": (85, 100), "lag": _PET_LAG, "window": None}
    suv = np.where(ds == 5, 12.0, 2.5) * np.exp(0.3 * rng.normal(size=n))
    return [observe(rng, "deauville", ds.astype(float), present=scanned, **kw),
            observe(rng, "suvmax", suv, present=scanned & draw(rng, 0.8, n), **kw)]
