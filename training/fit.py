"""Train and evaluate every candidate of one landmark; package the winner. Pure: no MLflow here."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from models.predictor import ModelMetadata, RelapsePredictor, RiskThresholds

from .candidates import ABLATION_STEPS, MAIN, Candidate, ablation_name, make_candidates
from .dataset import TrainingData
from .evaluate import CrossPrediction, centre_folds, cross_predict, stratified_folds, subgroup_table
from .explain_checks import shap_direction_checks
from .metrics import auroc, harrell_c, summarise
from .tune import default_params, tune_xgb

Progress = Callable[[str], None]


@dataclass
class TrainResult:
    data: TrainingData
    candidates: list[Candidate]
    cv_metrics: pd.DataFrame  # one row per candidate
    loco_metrics: pd.DataFrame  # one row per (candidate, centre)
    holdout_metrics: pd.DataFrame  # one row per candidate, fitted on development, scored on holdout
    oof: CrossPrediction
    winner: str
    final_params: dict[str, Any]
    predictor: RelapsePredictor
    subgroups: pd.DataFrame
    ablation: pd.DataFrame
    shap_checks: pd.DataFrame
    holdout_predictions: pd.DataFrame
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def winner_holdout(self) -> dict[str, float]:
        return self.holdout_metrics.set_index("candidate").loc[self.winner].to_dict()


def train_landmark(
    data: TrainingData, *, seed: int = 7, n_configs: int = 4, n_jobs: int = 2, progress: Progress | None = None
) -> TrainResult:
    """Cross-validate, run leave-one-centre-out, fit the final model and explain it.

    Args:
        data: the landmark's training data (see :func:`training.dataset.load_training_data`).
        seed: seeds folds, tuning and XGBoost.
        n_configs: hyperparameter configurations tried per tuning.
        n_jobs: folds fitted in parallel (worker processes).
        progress: called with a short message after each step.

    Returns:
        Every table the tracking and the model card need, and the packaged predictor.
    """
    say = progress or (lambda _msg: None)
    timings: dict[str, float] = {}
    candidates = make_candidates(data.landmark)
    main_specs = candidates[0].specs
    dev = data.frame[data.development]
    dev_labels = data.labels[data.development]

    clock = time.perf_counter()
    folds = stratified_folds(dev_labels["label"], seed=seed)
    oof = cross_predict(dev, dev_labels["label"], candidates, folds, tune_specs=main_specs, n_configs=n_configs,
                        seed=seed, n_jobs=n_jobs, on_fold=lambda f: say(f"cross-validation {f} done"))
    cv_metrics = _metric_table(oof.probabilities, dev_labels, seed)
    timings["cross_validation_s"] = time.perf_counter() - clock

    clock = time.perf_counter()
    loco_candidates = [c for c in candidates if c.in_loco]
    # Leave-one-centre-out uses the fixed default hyperparameters: no tuning, so no test centre in tuning either.
    loco = cross_predict(dev, dev_labels["label"], loco_candidates, centre_folds(dev["center"], dev_labels["label"]),
                         tune=default_params, tune_specs=main_specs, seed=seed, n_jobs=n_jobs,
                         on_fold=lambda f: say(f"leave-one-centre-out {f} done"))
    loco_metrics = _loco_table(loco.probabilities, dev_labels["label"], dev["center"])
    timings["leave_one_centre_out_s"] = time.perf_counter() - clock

    clock = time.perf_counter()
    winner = _pick_winner(cv_metrics, candidates)
    labelled = dev_labels["label"].notna().to_numpy()
    final_params, _ = tune_xgb(dev[labelled], dev_labels["label"][labelled].to_numpy(int), main_specs, n_configs=n_configs, seed=seed)
    fitted = {c.name: c.build(final_params, seed=seed).fit(dev[labelled], dev_labels["label"][labelled].to_numpy(int)) for c in candidates}
    holdout_predictions = pd.DataFrame({name: m.predict_proba(data.frame[data.holdout])[:, 1] for name, m in fitted.items()},
                                       index=data.frame.index[data.holdout])
    holdout_metrics = _metric_table(holdout_predictions, data.labels[data.holdout], seed)
    say("final model fitted")
    timings["final_fit_s"] = time.perf_counter() - clock

    clock = time.perf_counter()
    winner_candidate = next(c for c in candidates if c.name == winner)
    predictor = _package(fitted[winner].booster_, winner_candidate, data, oof.probabilities[winner], cv_metrics, holdout_metrics)
    explanation = predictor.explain_frame(dev)
    shap_checks = shap_direction_checks(dev, explanation)
    timings["explain_s"] = time.perf_counter() - clock

    groups = _subgroups(dev)
    return TrainResult(
        data=data, candidates=candidates, cv_metrics=cv_metrics, loco_metrics=loco_metrics,
        holdout_metrics=holdout_metrics, oof=oof, winner=winner, final_params=final_params, predictor=predictor,
        subgroups=subgroup_table(dev_labels["label"], oof.probabilities[winner], groups),
        ablation=_ablation_table(cv_metrics), shap_checks=shap_checks,
        holdout_predictions=holdout_predictions, timings=timings,
    )


def _metric_table(probabilities: pd.DataFrame, labels: pd.DataFrame, seed: int) -> pd.DataFrame:
    labelled = labels["label"].notna().to_numpy()
    y = labels["label"].to_numpy()[labelled].astype(int)
    rows = []
    for name in probabilities.columns:
        p = probabilities[name].to_numpy()
        metrics = summarise(y, p[labelled], seed=seed)
        metrics["harrell_c"] = harrell_c(labels["time"].to_numpy(), labels["event"].to_numpy(), p)
        rows.append({"candidate": name, **metrics})
    return pd.DataFrame(rows)


def _loco_table(probabilities: pd.DataFrame, label: pd.Series, center: pd.Series) -> pd.DataFrame:
    rows = []
    for name in probabilities.columns:
        scored = probabilities[name].notna() & label.notna()
        for centre in sorted(center[scored].unique()):
            mask = scored & (center == centre)
            rows.append({"candidate": name, "center": centre, "n": int(mask.sum()),
                         "auroc": auroc(label[mask].to_numpy(int), probabilities[name][mask].to_numpy())})
        rows.append({"candidate": name, "center": "pooled", "n": int(scored.sum()),
                     "auroc": auroc(label[scored].to_numpy(int), probabilities[name][scored].to_numpy())})
    return pd.DataFrame(rows)


def _pick_winner(cv_metrics: pd.DataFrame, candidates: list[Candidate]) -> str:
    """Best cross-validated AUROC among the XGBoost candidates (the packaged, explainable family)."""
    trees = {c.name for c in candidates if c.kind == "xgboost"}
    table = cv_metrics[cv_metrics["candidate"].isin(trees)].sort_values("auroc", ascending=False, kind="stable")
    return str(table.iloc[0]["candidate"]) if not table.empty else MAIN


def _package(booster: Any, candidate: Candidate, data: TrainingData, oof_winner: pd.Series,
             cv_metrics: pd.DataFrame, holdout_metrics: pd.DataFrame) -> RelapsePredictor:
    labelled = data.labels["label"][data.development].notna().to_numpy()
    low, high = np.quantile(oof_winner.to_numpy()[labelled], [1 / 3, 2 / 3])
    dev = data.frame[data.development]
    ranges = {}
    for spec in candidate.specs:
        if spec.type in ("float", "int"):
            values = dev[spec.name].dropna()
            if len(values) >= 20:
                ranges[spec.name] = (float(values.quantile(0.005)), float(values.quantile(0.995)))
    cv = cv_metrics.set_index("candidate").loc[candidate.name]
    ho = holdout_metrics.set_index("candidate").loc[candidate.name]
    metrics = {f"cv_{k}": float(cv[k]) for k in ("auroc", "auroc_lo", "auroc_hi", "brier", "cal_slope", "harrell_c")}
    metrics.update({f"holdout_{k}": float(ho[k]) for k in ("auroc", "auroc_lo", "auroc_hi", "brier", "cal_intercept", "cal_slope")})
    metadata = ModelMetadata(
        landmark=data.landmark, horizon_days=data.horizon_days, features=list(candidate.specs),
        thresholds=RiskThresholds(low=float(low), high=float(high)), training_ranges=ranges, metrics=metrics,
        training_fingerprint=data.fingerprint, trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    return RelapsePredictor(booster, metadata)


def _ablation_table(cv_metrics: pd.DataFrame) -> pd.DataFrame:
    table = cv_metrics.set_index("candidate")
    rows, previous = [], np.nan
    for step in ABLATION_STEPS:
        name = ablation_name(step)
        value = float(table.loc[name, "auroc"])
        rows.append({"modalities": " + ".join(step), "candidate": name, "auroc": value,
                     "auroc_lo": float(table.loc[name, "auroc_lo"]), "auroc_hi": float(table.loc[name, "auroc_hi"]),
                     "brier": float(table.loc[name, "brier"]), "delta_auroc": value - previous})
        previous = value
    return pd.DataFrame(rows)


def _subgroups(frame: pd.DataFrame) -> dict[str, pd.Series]:
    age = frame["age"]
    return {
        "product": frame["product"], "center": frame["center"], "sex": frame["sex"],
        "age": pd.Series(np.where(age.isna(), None, np.where(age < 65, "<65", ">=65")), index=frame.index),
    }
