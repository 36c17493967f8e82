"""Rows recorded at apheresis: performance status, disease history and pathology."""

from __future__ import annotations

import numpy as np

from .cohort import Arrays
from .rows import RowBlock, draw, observe, window_days

LEVELS_COO = np.array(["non-GCB", "GCB"], dtype=object)


def emit_history(rng: np.random.Generator, ctx: Arrays) -> list[RowBlock]:
    """History variables in the apheresis window (missingness per evidence.md section 1, [E]).

    Args:
        rng: random generator.
        ctx: merged patient, history and course arrays.

    Returns:
        One block per biomarker.
    """
    n = len(ctx["age"])
    flag = lambda x: np.asarray(x, dtype=float)  # noqa: E731
    washout_known = ctx["benda_exposed"] & draw(rng, 0.7, n)
    spec = [
        ("ecog", flag(ctx["ecog_apheresis"]), draw(rng, 0.97, n)),
        ("stage", flag(ctx["stage"]), draw(rng, 0.93, n)),
        ("extranodal_sites", flag(np.minimum(ctx["extranodal"], 20)), draw(rng, 0.85, n)),
        ("prior_lines", flag(ctx["prior_lines"]), draw(rng, 0.97, n)),
        ("primary_refractory", flag(ctx["primary_refractory"]), draw(rng, 0.93, n)),
        ("bendamustine_exposed", flag(ctx["benda_exposed"]), draw(rng, 0.88, n)),
        ("bendamustine_washout", ctx["benda_washout"], washout_known),
        ("cirs", flag(ctx["cirs"]), draw(rng, 0.55, n)),
        ("cell_of_origin", LEVELS_COO[ctx["gcb"].astype(int)], draw(rng, 0.9, n)),
        ("double_hit", flag(ctx["double_hit"]), draw(rng, 0.72, n)),
        ("tp53_altered", flag(ctx["tp53"]), draw(rng, 0.2, n)),
    ]
    at_apheresis = -ctx["v2v"]
    return [
        observe(
            rng,
            name,
            value,
            present=present,
            days=(-5, 0),
            lag=(0, 2),
            window=window_days("apheresis"),
            offset=at_apheresis,
        )
        for name, value, present in spec
    ]
