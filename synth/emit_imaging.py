"""FDG-PET rows: baseline (pre-LD) scan, day-30 scan with Deauville score, and day-90 follow-up.

Baseline TMTV/SUVmax/TLG follow tumour burden at infusion. The day-30 scan is drawn by its own
measurement model in ``pet`` (residual tumour, immune uptake unrelated to tumour, the visual read);
this module decides who is scanned and writes the rows. By month 3 the immune uptake has resolved
and the scan tracks tumour (Dean 2023: MTV vs ctDNA rs 0.79 at 3 months).
"""

from __future__ import annotations

import numpy as np

from .centres import centre_attribute
from .cohort import Arrays
from .pet import BACKGROUND_SUV, read_deauville, tumour_suv
from .rows import RowBlock, Timing, draw, observe, window_days

_PET_LAG = (0, 3)
# Day-30 PET missing in 10-25% (evidence 1c: dropout or early progression); progression before the
# scan is mostly found clinically or on CT first.
_SCANNED = 0.86
_SCANNED_AFTER_PROGRESSION = 0.22


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
    suvmax = np.clip(
        15.0 * np.exp(0.25 * burden + 0.15 * ctx["primary_refractory"] + 0.35 * rng.normal(size=n)),
        2.5,
        120.0,
    )
    tlg = tmtv * suvmax * 0.42 * np.exp(0.15 * rng.normal(size=n))
    scanned = draw(rng, 0.8, n)
    segmented = scanned & draw(rng, centre_attribute(ctx["centre"], "tmtv") + 0.1, n)
    kw: Timing = {"days": (-14, -3), "lag": _PET_LAG, "window": window_days("preld")}
    return [
        observe(rng, "tmtv", tmtv, present=segmented, **kw),
        observe(rng, "tlg", tlg, present=segmented & draw(rng, 0.85, n), **kw),
        observe(rng, "suvmax", suvmax, present=scanned & draw(rng, 0.9, n), **kw),
    ]


def _day30(rng: np.random.Generator, ctx: Arrays) -> list[RowBlock]:
    n = len(ctx["age"])
    progressed = ctx["progression_latent"] <= 30
    scanned = ctx["infused"] & draw(rng, np.where(progressed, _SCANNED_AFTER_PROGRESSION, _SCANNED), n)
    segmented = scanned & draw(rng, centre_attribute(ctx["centre"], "tmtv") + 0.15, n)
    kw: Timing = {"days": (24, 30), "lag": _PET_LAG, "window": window_days("day30")}
    return [
        observe(
            rng, "deauville", ctx["deauville30"].astype(float), present=scanned & draw(rng, 0.97, n), **kw
        ),
        observe(rng, "suvmax", np.clip(ctx["suv30"], 0.5, 140.0), present=scanned & draw(rng, 0.85, n), **kw),
        observe(rng, "tmtv", np.clip(ctx["mtv30"], 0.0, 15000.0), present=segmented, **kw),
    ]


def _day90(rng: np.random.Generator, ctx: Arrays) -> list[RowBlock]:
    """Month-3 PET: outside every window; must never reach a feature frame."""
    n = len(ctx["age"])
    progressed = ctx["progression_latent"] <= 90
    suv = np.maximum(tumour_suv(rng, ctx["residual"], progressed), BACKGROUND_SUV)
    ds = read_deauville(rng, suv, progressed)
    scanned = ctx["infused"] & draw(rng, 0.55, n)
    kw: Timing = {"days": (85, 100), "lag": _PET_LAG, "window": None}
    return [
        observe(rng, "deauville", ds.astype(float), present=scanned, **kw),
        observe(rng, "suvmax", suv, present=scanned & draw(rng, 0.8, n), **kw),
    ]
