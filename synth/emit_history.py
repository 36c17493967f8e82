"""Rows recorded at apheresis: performance status, disease history and pathology."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

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
    washout_known = ctx["benda_exposed"] & draw(rng, 0.7, n)
    spec = [
        ("ecog", _flag(ctx["ecog_apheresis"]), draw(rng, 0.97, n)),
        ("stage", _flag(ctx["stage"]), draw(rng, 0.93, n)),
        ("extranodal_sites", _flag(np.minimum(ctx["extranodal"], 20)), draw(rng, 0.85, n)),
        ("prior_lines", _flag(ctx["prior_lines"]), draw(rng, 0.97, n)),
        ("primary_refractory", _flag(ctx["primary_refractory"]), draw(rng, 0.93, n)),
        ("bendamustine_exposed", _flag(ctx["benda_exposed"]), draw(rng, 0.88, n)),
        ("bendamustine_washout", ctx["benda_washout"], washout_known),
        ("cirs", _flag(ctx["cirs"]), draw(rng, 0.55, n)),
        ("cell_of_origin", LEVELS_COO[ctx["gcb"].astype(int)], draw(rng, 0.9, n)),
        ("double_hit", _flag(ctx["double_hit"]), draw(rng, 0.72, n)),
        ("tp53_altered", _flag(ctx["tp53"]), draw(rng, 0.2, n)),
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


def _flag(values: NDArray[Any]) -> NDArray[np.float64]:
    """Counts, grades and yes/no flags as floats (the canonical numeric value)."""
    return np.asarray(values, dtype=np.float64)
