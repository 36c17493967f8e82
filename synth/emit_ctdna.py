"""ctDNA rows (research programmes only): pre-LD, day 7, day 28 and month 3.

Pre-LD level follows tumour burden; day-7 and day-28 detectability follow post-infusion residual
disease. Results come back 3-12 days after the draw (2-9 for the week-4 sample drawn on days 21-28),
so some day-28 samples are reported after day 30. The month-3 sample lies outside every window.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .centres import centre_attribute
from .cohort import Arrays
from .rows import RowBlock, draw, observe, window_days

_LAG = (3, 12)
# The week-4 sample of the landmark protocols goes to a rapid-turnaround lab; still, about a third
# of the results come back only after day 30 and are invisible to the day-30 model.
_LAG_DAY28 = (2, 9)
# Detection thresholds on the residual-disease scale (undetectable below).
DAY7_THRESHOLD = 0.3
DAY28_THRESHOLD = -0.1


def emit_ctdna(rng: np.random.Generator, ctx: Arrays) -> list[RowBlock]:
    """ctDNA rows for patients in their centre's ctDNA programme.

    Args:
        rng: random generator.
        ctx: merged patient, history and course arrays.

    Returns:
        One block per timepoint.
    """
    n = len(ctx["age"])
    enrolled = draw(rng, centre_attribute(ctx["centre"], "ctdna"), n)
    post = enrolled & ctx["infused"]
    preld = 10.0 ** (1.8 + 0.9 * ctx["burden_infusion"] + 0.55 * rng.normal(size=n))
    preld = np.where(preld < 1.5, 0.0, preld)
    day7 = _level(rng, ctx["residual"] + 0.4 * ctx["burden_infusion"] + 0.7 * rng.normal(size=n), DAY7_THRESHOLD)
    progressed = ctx["progression_latent"] <= 26
    day28 = _level(rng, ctx["seen_day30"] + 0.5 * rng.normal(size=n) + 3.0 * progressed, DAY28_THRESHOLD)
    month3 = _level(rng, ctx["seen_day30"] - 0.5 + 4.0 * (ctx["progression_latent"] <= 90), DAY28_THRESHOLD)
    return [
        observe(rng, "ctdna", preld, present=enrolled & draw(rng, 0.85, n), days=(-8, -4), lag=_LAG,
                window=window_days("preld")),
        observe(rng, "ctdna", day7, present=post & draw(rng, 0.6, n), days=(7, 9), lag=_LAG,
                window=window_days("early")),
        observe(rng, "ctdna", day28, present=post & draw(rng, np.where(progressed, 0.15, 0.8), n), days=(21, 28),
                lag=_LAG_DAY28, window=window_days("day30")),
        observe(rng, "ctdna", month3, present=post & draw(rng, 0.6, n), days=(85, 95), lag=_LAG, window=None),
    ]


def _level(rng: np.random.Generator, signal: NDArray, threshold: float) -> NDArray:
    """hGE/mL: 0 (undetectable) below ``threshold``, rising log-linearly above it."""
    level = 10.0 ** (0.3 + 0.6 * (signal - threshold) + 0.3 * rng.normal(size=len(signal)))
    return np.where(signal > threshold, np.maximum(level, 0.5), 0.0)
