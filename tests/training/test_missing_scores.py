"""Training never fails because a published score cannot be computed on a registry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.ingest import ingest_directory
from synth import generate_registry, write_registry
from synth.frames import random_survival_frame
from training.fit import available_candidates


def test_a_score_missing_for_everyone_is_skipped_with_a_note():
    frame, _ = random_survival_frame(50, seed=1)
    kept, notes = available_candidates("preinfusion", frame.assign(ipi=np.nan))
    assert "score:ipi" not in {c.name for c in kept} and "score:aaipi" in {c.name for c in kept}
    assert any(n.startswith("score:ipi skipped") for n in notes)


@pytest.mark.slow
def test_registry_without_extranodal_sites_trains_without_ipi(tmp_path: Path):
    from training.dataset import load_training_data
    from training.fit import train_landmark

    tables = generate_registry(n_patients=1500, seed=11)
    tables["clinical"] = tables["clinical"][tables["clinical"]["biomarker"] != "extranodal_sites"]
    write_registry(tables, tmp_path / "raw")
    ingest_directory(tmp_path / "raw", store=tmp_path / "store.duckdb")
    data = load_training_data(tmp_path / "store.duckdb", "preinfusion")
    result = train_landmark(data, n_configs=1, n_jobs=1)
    assert "score:ipi" not in set(result.cv["candidate"])
    assert any(n.startswith("score:ipi skipped") for n in result.notes)
    assert pd.notna(result.holdout.set_index("candidate").loc["score:aaipi", "uno_c_365"])
