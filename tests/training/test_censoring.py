"""The censoring test that would have caught the old labels.

A synthetic registry's follow-up is cut before month 12 for part of its patients, either at random
or more often for patients with a covariate the model sees (axi-cel, the lower-risk product, as when
responders return to their referring centre). Trained end to end on the cut registry (store, targets,
the packaged model's estimator), the mean predicted 12-month risk must match the 12-month risk of the
same registry before the cut (Kaplan-Meier) within 0.03. The retired complete-case classifier, run on
the same data, is reported beside it (it drops the patients censored before month 12).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.ingest import ingest_directory
from synth import generate_registry, write_registry

pytestmark = [pytest.mark.slow]
PATIENTS, SEED, TOLERANCE = 5000, 21, 0.03


def cut_follow_up(
    tables: dict[str, pd.DataFrame], *, probability: np.ndarray, rng: np.random.Generator
) -> dict[str, pd.DataFrame]:
    """Cut each infused patient's follow-up on a uniform day 1-364 after infusion with ``probability``
    (per row of ``patients``): later events are erased and the last contact becomes the cut day."""
    patients = tables["patients"].set_index("patient_id")
    outcomes = tables["outcomes"].set_index("patient_id").copy()
    infusion = pd.to_datetime(patients["infusion_date"], errors="coerce").reindex(outcomes.index)
    cut = pd.Series(
        np.where(rng.random(len(patients)) < probability, rng.integers(1, 365, len(patients)), -1),
        index=patients.index,
    ).reindex(outcomes.index)
    cut_date = infusion + pd.to_timedelta(cut.where(cut > 0), unit="D")
    chosen = cut_date.notna()
    for column in ("progression_date", "death_date"):
        dates = pd.to_datetime(outcomes[column], errors="coerce")
        outcomes[column] = dates.where(~chosen | (dates <= cut_date)).dt.strftime("%Y-%m-%d").fillna("")
    last = pd.to_datetime(outcomes["last_followup_date"], errors="coerce")
    outcomes["last_followup_date"] = last.where(~chosen | (last <= cut_date), cut_date).dt.strftime(
        "%Y-%m-%d"
    )
    return {**tables, "outcomes": outcomes.reset_index()}


def mean_risks(store: Path) -> dict[str, float]:
    """Mean predicted 12-month risk of every eligible patient.

    From the survival model and from the complete-case classifier.
    """
    from models.ipcw import IPCWHorizonClassifier
    from models.xgb_survival import XGBCoxSurvival
    from training.candidates import make_candidates
    from training.dataset import load_training_data

    data = load_training_data(store, "preinfusion")
    specs, y = make_candidates("preinfusion")[0].specs, data.y()
    survival = XGBCoxSurvival(specs).fit(data.frame, y)
    complete_case = IPCWHorizonClassifier(specs, complete_case=True).fit(data.frame, y)
    return {
        "survival model": float(survival.predict_risk(data.frame, [365])[:, 0].mean()),
        "complete-case classifier": float(complete_case.predict(data.frame).mean()),
        "censored before 12 months": float(data.targets["label_365"].isna().mean()),
    }


def truth(tables: dict[str, pd.DataFrame], tmp: Path) -> float:
    """Kaplan-Meier 12-month risk of the uncut registry's eligible patients."""
    from training.dataset import load_training_data
    from training.observed import km_risk

    write_registry(tables, tmp / "raw")
    ingest_directory(tmp / "raw", store=tmp / "store.duckdb")
    targets = load_training_data(tmp / "store.duckdb", "preinfusion").targets
    return km_risk(targets["time"].to_numpy(), targets["event"].to_numpy(), 365)[0]


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, pd.DataFrame], float]:
    tables = generate_registry(n_patients=PATIENTS, seed=SEED)
    return tables, truth(tables, tmp_path_factory.mktemp("uncut"))


@pytest.mark.parametrize("scheme", ["random 40%", "covariate-dependent"])
def test_mean_predicted_12_month_risk_matches_the_uncut_registry(scheme, registry, tmp_path, capsys):
    tables, expected = registry
    rng = np.random.default_rng(3)
    axi = (tables["patients"]["product"] == "axi-cel").to_numpy()
    probability = np.full(len(axi), 0.4) if scheme == "random 40%" else np.where(axi, 0.65, 0.15)
    write_registry(cut_follow_up(tables, probability=probability, rng=rng), tmp_path / "raw")
    ingest_directory(tmp_path / "raw", store=tmp_path / "store.duckdb")
    risks = mean_risks(tmp_path / "store.duckdb")
    with capsys.disabled():
        print(
            f"\n[censoring test, {scheme}] uncut Kaplan-Meier 12-month risk {expected:.3f}; "
            + "; ".join(f"{k} {v:.3f}" for k, v in risks.items())
        )
    assert abs(risks["survival model"] - expected) <= TOLERANCE
    assert risks["complete-case classifier"] - expected > TOLERANCE  # the bias the old labels had
