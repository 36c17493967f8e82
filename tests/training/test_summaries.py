"""training/summaries.py: the tables beside the metric tables hold exactly the numbers they are given."""

from __future__ import annotations

import numpy as np
import pytest

from synth.frames import random_survival_frame
from training.candidates import ABLATION_STEPS, IPCW, MAIN, ablation_name, make_candidates
from training.config import load_training_config
from training.dataset import load_training_data
from training.fit import evaluation_spec
from training.summaries import (
    SUBGROUP_MIN_EVENTS,
    ablation_table,
    characteristics_table,
    comparison_table,
    risk_group_labels,
    subgroup_table,
)
from training.survival_metrics import SurvivalEvaluator, summarise

CONFIG = load_training_config()


def _values(point: float, spread: float, seed: int) -> np.ndarray:
    """A metric as the evaluator returns it: the point estimate, then 50 bootstrap resamples."""
    rng = np.random.default_rng(seed)
    return np.concatenate([[point], point + spread * rng.normal(size=50)])


def test_risk_groups_use_the_configured_absolute_thresholds():
    low, high = CONFIG.risk_groups.low, CONFIG.risk_groups.high
    risk = np.array([0.0, low - 1e-9, low, (low + high) / 2, high - 1e-9, high, 1.0])
    assert risk_group_labels(risk, CONFIG).tolist() == [
        "low",
        "low",
        "intermediate",
        "intermediate",
        "intermediate",
        "high",
        "high",
    ]


def test_the_ablation_table_reports_each_step_and_what_it_adds():
    evals = {
        ablation_name(step): {
            "uno_c_365": _values(0.6 + 0.03 * i, 0.01, i),
            "ibs": _values(0.2 - 0.01 * i, 0.005, 10 + i),
        }
        for i, step in enumerate(ABLATION_STEPS)
        if i != 1  # one step not trained: the next one is compared with the step before it
    }
    table = ablation_table(evals)
    assert table["candidate"].tolist() == [ablation_name(s) for i, s in enumerate(ABLATION_STEPS) if i != 1]
    assert table["modalities"].iloc[0] == "clinical" and table["candidate"].iloc[-1] == MAIN
    for _, row in table.iterrows():
        values = evals[row["candidate"]]
        assert (row["uno_c_365"], row["uno_c_365_lo"], row["uno_c_365_hi"]) == summarise(values["uno_c_365"])
        assert row["ibs"] == values["ibs"][0]
    assert table.loc[0, ["delta_uno_c_365", "delta_ibs"]].isna().all()
    second, first = evals[table["candidate"].iloc[1]], evals[table["candidate"].iloc[0]]
    assert table.loc[1, "delta_uno_c_365"] == pytest.approx(0.06)  # step 2 minus step 0
    assert (table.loc[1, "delta_uno_c_365_lo"], table.loc[1, "delta_uno_c_365_hi"]) == pytest.approx(
        summarise(second["uno_c_365"] - first["uno_c_365"])[1:]
    )
    assert table.loc[1, "delta_ibs"] == pytest.approx(-0.02)


def test_the_comparison_table_pairs_the_winner_with_every_non_tree_candidate():
    candidates = make_candidates("preinfusion")
    metrics = ("uno_c_365", "uno_c_730", "ibs")
    evals = {c.name: {m: _values(0.5 + 0.01 * i, 0.01, i) for m in metrics} for i, c in enumerate(candidates)}
    table = comparison_table(candidates, MAIN, evals, evals)
    others = [c.name for c in candidates if c.kind != "xgboost"]
    assert set(table["evaluation"]) == {"cross-validation", "held-out"}
    cv = table[table["evaluation"] == "cross-validation"]
    assert sorted(set(cv["comparison"])) == sorted(f"{MAIN} minus {o}" for o in others)
    ipcw = cv[cv["comparison"] == f"{MAIN} minus {IPCW}"]
    assert ipcw["metric"].tolist() == ["uno_c_365"]  # the fixed-horizon classifier has no curve
    row = cv[(cv["comparison"] == f"{MAIN} minus linear_cox") & (cv["metric"] == "ibs")].iloc[0]
    expected = summarise(evals[MAIN]["ibs"] - evals["linear_cox"]["ibs"])
    assert (row["delta"], row["low"], row["high"]) == pytest.approx(expected)


def test_subgroups_report_metrics_only_with_enough_events_on_both_sides():
    frame, targets = random_survival_frame(400, seed=7, missing=0.0)
    frame.loc[frame.index[:8], "center"] = "C99"  # a small centre: too few events for metrics
    risk = np.tile(np.linspace(0.05, 0.95, 400)[:, None], (1, len(CONFIG.evaluation_times())))
    spec = evaluation_spec(CONFIG, CONFIG.evaluation_times())
    table = subgroup_table(frame, targets, risk, spec, seed=0, n_boot=20)
    assert set(table["subgroup"]) == {"product", "sex", "center", "age"}
    assert set(table.loc[table["subgroup"] == "age", "level"]) == {"<65", ">=65"}
    for _, row in table.iterrows():
        members = (frame[row["subgroup"]] == row["level"]).to_numpy() if row["subgroup"] != "age" else None
        if members is not None:
            assert row["n"] == members.sum() and row["events"] == targets["event"][members].sum()
    small = table[(table["subgroup"] == "center") & (table["level"] == "C99")].iloc[0]
    assert small["events"] < SUBGROUP_MIN_EVENTS and np.isnan(small["uno_c_365"])
    product = table[(table["subgroup"] == "product") & (table["level"] == "axi-cel")].iloc[0]
    members = (frame["product"] == "axi-cel").to_numpy()
    evaluator = SurvivalEvaluator(
        targets["time"].to_numpy()[members], targets["event"].to_numpy()[members], spec, n_boot=20, seed=0
    )
    assert product["uno_c_365"] == pytest.approx(evaluator.evaluate(risk[members])["uno_c_365"][0])


def test_the_characteristics_table_counts_development_and_held_out(tiny_store):
    data = load_training_data(tiny_store, "preinfusion")
    table = characteristics_table(data).set_index("characteristic")
    assert list(table.columns) == ["development", "held-out"]
    assert table.loc["patients", "development"] == f"{int(data.development.sum()):,}"
    assert table.loc["patients", "held-out"] == f"{int(data.holdout.sum()):,}"
    events = data.targets["event"]
    assert table.loc["events (progression or death)", "held-out"] == f"{int(events[data.holdout].sum()):,}"
    share = data.frame.loc[data.development, "sex"].dropna().astype(str).value_counts(normalize=True)
    sex = next(v for k, v in table["development"].items() if k.startswith("sex"))
    assert sex.startswith(f"{share.index[0]} {share.iloc[0]:.0%}")
    missing = [k for k in table.index if k.startswith("no ") and k.endswith("(% of patients)")]
    assert len(missing) == 4 and all(v.endswith("%") for v in table.loc[missing, "held-out"])
