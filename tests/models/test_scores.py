"""models/scores.py: published clinical scores as one-covariate Cox models."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.scores import ClinicalScoreCox, ScoreUnavailableError
from synth.frames import random_survival_frame

TIMES = [90, 180, 365, 730]


def test_score_cox_gives_a_monotone_risk_curve_rising_with_the_score():
    frame, targets = random_survival_frame(600, seed=1)
    frame["ipi"] = np.clip(np.round(frame["ldh_preld"] / 300 + frame["ecog_preld"].fillna(1)), 0, 5)
    model = ClinicalScoreCox("ipi").fit(frame, targets)
    grid = pd.DataFrame({"ipi": [0.0, 1.0, 3.0, 5.0]})
    risk = model.predict_risk(grid, TIMES)
    assert (np.diff(risk, axis=0) > 0).all() and (np.diff(risk, axis=1) >= 0).all()


def test_score_missing_for_everyone_is_refused_with_a_reason():
    frame, targets = random_survival_frame(50, seed=2)
    with pytest.raises(ScoreUnavailableError, match="'ipi' is missing for every training patient"):
        ClinicalScoreCox("ipi").fit(frame.assign(ipi=np.nan), targets)
