"""The day-30 Deauville/ctDNA rule follows the published combination."""

from __future__ import annotations

import numpy as np
import pandas as pd

from training.rules import deauville_ctdna_rule


def test_rule_cases():
    frame = pd.DataFrame(
        {
            "deauville_day30": [5, 4, 4, 4, 4, 3, np.nan],
            "ctdna_detected_day30": [np.nan, 1, 0, np.nan, 0, 1, 1],
            "suvmax_day30": [np.nan, 3, 12, np.nan, 4, 15, 20],
        }
    )
    assert deauville_ctdna_rule(frame).tolist() == [True, True, True, False, False, False, False]
