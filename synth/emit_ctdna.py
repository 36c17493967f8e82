"""ctDNA rows (research programmes only): pre-LD, day 7, day 28 and month 3.

Measurement model (each sample is its own view of the tumour):

* Level: ``log10 hGE/mL`` rises with the disease it sees; shedding differs between tumours and
  draws (site, histology, cfDNA background), so each sample has its own noise, independent of PET.
* Pre-LD: follows tumour burden at infusion; Dean 2023 found baseline MTV and ctDNA correlated
  (rs 0.61 when scans were close to infusion), not identical. Detectable in about 96% (Frank 2021:
  69/72).
* Day 7 and day 28: follow the residual disease present at the draw (``tumour30``); day 7 also sees
  tumour still being cleared. Results below the limit of detection are reported as 0.
* Week-4 sample drawn on days 21-28 (earlier draws see a little more tumour still clearing) and sent
  to a rapid-turnaround lab (2-9 days): 36 of the 64 equally likely (draw day, turnaround) pairs
  are reported by day 30, so about 56% of week-4 results are usable at the day-30 landmark and 44%
  come back too late (unchanged from v1). With the sample drawn in 80% of enrolled patients, about
  45% of enrolled patients alive and progression-free at day 30 have a usable result.
* Month 3 lies outside every window; ctDNA turns positive at or before radiographic relapse
  (Frank 2021: 29/30).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .centres import centre_attribute
from .cohort import Arrays
from .rows import RowBlock, draw, observe, window_days

_LAG = (3, 12)
_LAG_DAY28 = (2, 9)
_PRELD_SD = 1.1  # log10 shedding noise at baseline (Dean: rs 0.61 with baseline MTV)
DAY7_THRESHOLD = 0.3  # detection limit on the residual-disease scale
DAY28_THRESHOLD = 0.0
DAY28_SD = 0.95  # sampling and shedding noise of the week-4 draw
_CLEARING_PER_DAY = 0.04  # residual-disease units still shed per day before day 28


def emit_ctdna(rng: np.random.Generator, ctx: Arrays) -> list[RowBlock]:
    """CtDNA rows for patients in their centre's ctDNA programme.

    Args:
        rng: random generator.
        ctx: merged patient, history and course arrays.

    Returns:
        One block per timepoint.
    """
    n = len(ctx["age"])
    enrolled = draw(rng, centre_attribute(ctx["centre"], "ctdna"), n)
    post = enrolled & ctx["infused"]
    preld = 10.0 ** (1.8 + 0.9 * ctx["burden_infusion"] + _PRELD_SD * rng.normal(size=n))
    preld = np.where(preld < 1.5, 0.0, preld)
    day7 = _level(
        rng, ctx["tumour30"] + 0.4 * ctx["burden_infusion"] + 0.9 * rng.normal(size=n), DAY7_THRESHOLD
    )
    progressed = ctx["progression_latent"] <= 26
    return [
        observe(
            rng,
            "ctdna",
            preld,
            present=enrolled & draw(rng, 0.85, n),
            days=(-8, -4),
            lag=_LAG,
            window=window_days("preld"),
        ),
        observe(
            rng,
            "ctdna",
            day7,
            present=post & draw(rng, 0.6, n),
            days=(7, 9),
            lag=_LAG,
            window=window_days("early"),
        ),
        _week4(rng, ctx, present=post & draw(rng, np.where(progressed, 0.15, 0.8), n), progressed=progressed),
        observe(
            rng,
            "ctdna",
            _month3(rng, ctx),
            present=post & draw(rng, 0.6, n),
            days=(85, 95),
            lag=_LAG,
            window=None,
        ),
    ]


def _week4(
    rng: np.random.Generator, ctx: Arrays, *, present: NDArray[np.bool_], progressed: NDArray[np.bool_]
) -> RowBlock:
    """The day 21-28 sample: its level depends on the draw day; progression before it is seen."""
    n = len(present)
    day = rng.integers(21, 29, size=n)
    seen = ctx["tumour30"] + _CLEARING_PER_DAY * (28 - day) + DAY28_SD * rng.normal(size=n) + 3.0 * progressed
    return observe(
        rng,
        "ctdna",
        _level(rng, seen, DAY28_THRESHOLD),
        present=present,
        days=(0, 0),
        lag=_LAG_DAY28,
        window=window_days("day30"),
        offset=day,
    )


def _month3(rng: np.random.Generator, ctx: Arrays) -> NDArray[np.float64]:
    """Month-3 level: all residual disease by then, and any progression before the draw."""
    n = len(ctx["age"])
    seen = ctx["residual"] - 0.5 + 0.6 * rng.normal(size=n) + 4.0 * (ctx["progression_latent"] <= 90)
    return _level(rng, seen, DAY28_THRESHOLD)


def _level(rng: np.random.Generator, signal: NDArray[np.float64], threshold: float) -> NDArray[np.float64]:
    """hGE/mL: 0 (undetectable) below ``threshold``, rising log-linearly above it."""
    level = 10.0 ** (0.3 + 0.6 * (signal - threshold) + 0.3 * rng.normal(size=len(signal)))
    return np.where(signal > threshold, np.maximum(level, 0.5), 0.0)
