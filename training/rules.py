"""Published bedside decision rules used as comparators (not models)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray

SUVMAX_HIGH = 10.0


def deauville_ctdna_rule(frame: pd.DataFrame) -> np.ndarray:
    """The day-30 rule of docs/evidence.md (post-infusion landmark evidence, "how to combine the two").

    High risk ("act") when the day-30 PET is Deauville 5, or Deauville 4 with detectable day-28
    ctDNA or day-30 SUVmax >= 10 (Al Zaki 2022; Frank 2021). Deauville 1-3 is low risk. A patient
    without a day-30 Deauville score, or DS4 with neither ctDNA nor SUVmax, is not flagged.

    Args:
        frame: day-30 feature frame (``deauville_day30``, ``ctdna_detected_day30``, ``suvmax_day30``).

    Returns:
        Boolean array: the rule says act.
    """
    ds = pd.to_numeric(frame["deauville_day30"], errors="coerce").to_numpy(dtype=float)
    ctdna = pd.to_numeric(frame["ctdna_detected_day30"], errors="coerce").to_numpy(dtype=float)
    suv = pd.to_numeric(frame["suvmax_day30"], errors="coerce").to_numpy(dtype=float)
    equivocal_positive = (ds == 4) & ((ctdna == 1) | (suv >= SUVMAX_HIGH))
    act: NDArray[np.bool_] = (ds == 5) | equivocal_positive
    return act
