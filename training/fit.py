"""Train and evaluate every candidate of one landmark; package the winner. Pure: no MLflow here.

Order of work (no test patient ever touches fitting or tuning):
1. cross-validation on the development set, tuning inside each training fold;
2. leave-one-centre-out on the development set, with the configured default hyperparameters;
3. the winner: the all-feature gradient-boosted Cox model, unless a modality ablation beats it on
   cross-validated Uno's C (365 days) with a paired-bootstrap lower bound above zero;
4. final fit of every candidate on the whole development set (tuned on it), scored on the held-out set;
5. the winner packaged with its Breslow baseline, explained (exact TreeSHAP on its margin) and summarised.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from models.predictor import RelapsePredictor

from .candidates import MAIN, Candidate, make_candidates
from .config import TrainingConfig, load_training_config
from .dataset import TrainingData
from .evaluate import CrossPrediction, centre_folds, cross_predict, stratified_folds
from .explain_checks import shap_direction_checks
from .labels import structured_target
from .package import package_winner
from .performance import evaluate_all, metric_table, paired_delta
from .sample_size import SampleSizeCheck, candidate_parameters, check_sample_size
from .summaries import Summaries, summarise_landmark
from .survival_metrics import EvaluationSpec, SurvivalEvaluator
from .tune import default_params, tune_all

Progress = Callable[[str], None]
METRICS = (
    "uno_c_365",
    "uno_c_730",
    "auc_90",
    "auc_180",
    "auc_365",
    "auc_730",
    "brier_90",
    "brier_180",
    "brier_365",
    "brier_730",
    "ibs",
    "citl_365",
    "mean_risk_365",
    "observed_risk_365",
)


@dataclass
class TrainResult:
    """Everything one landmark's training produced: candidates, metrics, the winner and its predictor."""

    data: TrainingData
    config: TrainingConfig
    candidates: list[Candidate]
    notes: list[str]
    times: np.ndarray
    sample_size: SampleSizeCheck
    cv: pd.DataFrame  # one row per candidate: every metric with its 95% CI
    holdout: pd.DataFrame
    loco: pd.DataFrame  # pooled leave-one-centre-out predictions
    oof: CrossPrediction
    holdout_risks: dict[str, np.ndarray]
    winner: str
    final_params: dict[str, dict[str, Any]]
    predictor: RelapsePredictor
    summaries: Summaries
    shap_checks: pd.DataFrame
    evaluations: dict[
        str, dict[str, dict[str, np.ndarray]]
    ]  # "cv" / "holdout" / "loco" -> candidate -> metric
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def winner_holdout(self) -> dict[str, float]:
        """The winner's held-out metrics, by metric name."""
        row = self.holdout.set_index("candidate").loc[[self.winner]].iloc[0]
        return {str(metric): value for metric, value in row.items()}


def train_landmark(
    data: TrainingData,
    *,
    seed: int = 7,
    n_configs: int | None = None,
    n_jobs: int = 2,
    progress: Progress | None = None,
) -> TrainResult:
    """Cross-validate, run leave-one-centre-out, fit the final models, package and explain the winner.

    Args:
        data: the landmark's training data (see :func:`training.dataset.load_training_data`).
        seed: seeds folds, tuning, bootstrap resamples and XGBoost.
        n_configs: hyperparameter configurations per search (the configured number by default).
        n_jobs: folds fitted in parallel (worker processes).
        progress: called with a short message after each step.

    Returns:
        Every table the tracking and the model card need, and the packaged predictor.
    """
    say = progress or (lambda _msg: None)
    config = load_training_config()
    n_configs = n_configs or config.xgboost_search.n_configs
    times = config.evaluation_times()
    dev, dev_targets = data.frame[data.development], data.targets[data.development]
    candidates, notes = available_candidates(data.landmark, dev)
    main_specs = candidates[0].specs
    sample_size = check_sample_size(
        parameters=candidate_parameters(main_specs),
        time=dev_targets["time"].to_numpy(),
        event=dev_targets["event"].to_numpy(),
        horizon=config.risk_groups.horizon_days,
    )
    if not sample_size.adequate:
        notes.append(f"WARNING: {sample_size.summary()}")
    timings: dict[str, float] = {}
    spec = evaluation_spec(config, times)

    clock = time.perf_counter()
    folds = stratified_folds(dev_targets["event"], n_splits=config.evaluation.cv_folds, seed=seed)
    oof = cross_predict(
        dev,
        dev_targets,
        candidates,
        folds,
        times=times,
        tune=tune_all,
        tune_specs=main_specs,
        n_configs=n_configs,
        seed=seed,
        n_jobs=n_jobs,
        on_fold=lambda f: say(f"cross-validation {f} done"),
    )
    cv_evaluator = _evaluator(dev_targets, spec, config.evaluation.bootstrap_resamples, seed)
    cv_evals = evaluate_all(cv_evaluator, oof.risks)
    timings["cross_validation_s"] = time.perf_counter() - clock

    clock = time.perf_counter()
    loco_evals, loco_table, loco_oof, loco_rows = _leave_one_centre_out(
        dev, dev_targets, candidates, times, spec, config, seed=seed, n_jobs=n_jobs, say=say
    )
    timings["leave_one_centre_out_s"] = time.perf_counter() - clock

    clock = time.perf_counter()
    winner = pick_winner(cv_evals, candidates)
    dev_y = structured_target(dev_targets)
    final_params = tune_all(dev, dev_y, main_specs, n_configs=n_configs, seed=seed)
    fitted = {c.name: c.build(final_params, seed=seed).fit(dev, dev_y) for c in candidates}
    holdout_frame, holdout_targets = data.frame[data.holdout], data.targets[data.holdout]
    holdout_risks = {name: model.predict_risk(holdout_frame, times) for name, model in fitted.items()}
    holdout_evaluator = _evaluator(holdout_targets, spec, config.evaluation.holdout_bootstrap_resamples, seed)
    holdout_evals = evaluate_all(holdout_evaluator, holdout_risks)
    say("final models fitted")
    timings["final_fit_s"] = time.perf_counter() - clock

    clock = time.perf_counter()
    winner_candidate = next(c for c in candidates if c.name == winner)
    cv_table, holdout_table = metric_table(cv_evals, METRICS), metric_table(holdout_evals, METRICS)
    headline = int(np.searchsorted(times, config.risk_groups.horizon_days))
    predictor = package_winner(
        fitted[winner],
        winner_candidate,
        data,
        config=config,
        cv=cv_table.set_index("candidate").loc[[winner]].iloc[0],
        holdout=holdout_table.set_index("candidate").loc[[winner]].iloc[0],
        oof_risk=oof.risks[winner][:, headline],
    )
    explanation = predictor.explain_frame(dev)
    summaries = summarise_landmark(
        data=data,
        config=config,
        candidates=candidates,
        winner=winner,
        oof=oof,
        times=times,
        holdout_risks=holdout_risks,
        cv_evals=cv_evals,
        holdout_evals=holdout_evals,
        cv_evaluator=cv_evaluator,
        holdout_evaluator=holdout_evaluator,
        loco_rows=loco_rows,
        loco_oof=loco_oof,
        seed=seed,
    )
    timings["summaries_s"] = time.perf_counter() - clock
    return TrainResult(
        data=data,
        config=config,
        candidates=candidates,
        notes=notes,
        times=times,
        sample_size=sample_size,
        cv=cv_table,
        holdout=holdout_table,
        loco=loco_table,
        oof=oof,
        holdout_risks=holdout_risks,
        winner=winner,
        final_params=final_params,
        predictor=predictor,
        summaries=summaries,
        shap_checks=shap_direction_checks(dev, explanation),
        evaluations={"cv": cv_evals, "holdout": holdout_evals, "loco": loco_evals},
        timings=timings,
    )


def available_candidates(landmark: str, dev: pd.DataFrame) -> tuple[list[Candidate], list[str]]:
    """The landmark's candidates minus clinical scores this registry cannot compute (with a note why)."""
    kept, notes = [], []
    for candidate in make_candidates(landmark):
        if candidate.kind == "score":
            known = (
                pd.to_numeric(dev[candidate.column], errors="coerce").notna().mean()
                if candidate.column in dev
                else 0.0
            )
            if known == 0:
                notes.append(
                    f"{candidate.name} skipped: {candidate.column} cannot be computed for any development "
                    "patient "
                    "(an input is missing from the registry)"
                )
                continue
            if known < 0.5:
                notes.append(
                    f"{candidate.name}: computable for only {known:.0%} of development patients; "
                    "the others take the training median"
                )
        kept.append(candidate)
    return kept, notes


def evaluation_spec(config: TrainingConfig, times: np.ndarray) -> EvaluationSpec:
    """The metric grid and summary points of the configuration."""
    return EvaluationSpec(
        times=times,
        horizons=config.horizons_days,
        taus=config.evaluation.uno_c_truncation_days,
        headline=config.risk_groups.horizon_days,
        thresholds=config.evaluation.net_benefit_thresholds.values(),
        brier_grid=config.brier_grid(),
    )


def pick_winner(cv_evals: dict[str, dict[str, np.ndarray]], candidates: list[Candidate]) -> str:
    """The packaged model's candidate name.

    The all-feature boosted Cox model, unless an ablation (fewer modalities) has a better cross-validated
    Uno's C (365 days) beyond noise (paired-bootstrap 95% lower bound above zero); among such ablations the
    best. A difference inside the noise never drops a modality.
    """
    better = []
    for candidate in candidates:
        if candidate.packageable and candidate.name != MAIN:
            delta, low, _ = paired_delta(cv_evals, candidate.name, MAIN, "uno_c_365")
            if low > 0:
                better.append((delta, candidate.name))
    return max(better)[1] if better else MAIN


def _evaluator(targets: pd.DataFrame, spec: EvaluationSpec, n_boot: int, seed: int) -> SurvivalEvaluator:
    return SurvivalEvaluator(
        targets["time"].to_numpy(), targets["event"].to_numpy(), spec, n_boot=n_boot, seed=seed
    )


def _leave_one_centre_out(
    dev: pd.DataFrame,
    dev_targets: pd.DataFrame,
    candidates: list[Candidate],
    times: np.ndarray,
    spec: EvaluationSpec,
    config: TrainingConfig,
    *,
    seed: int,
    n_jobs: int,
    say: Progress,
) -> tuple[dict[str, dict[str, np.ndarray]], pd.DataFrame, CrossPrediction | None, np.ndarray]:
    """Pooled leave-one-centre-out metrics of the candidates marked ``in_loco``.

    Default hyperparameters: no tuning, so no test centre influences any choice. Also which rows were held
    out.
    """
    folds = centre_folds(dev["center"], dev_targets["event"], min_events=config.evaluation.loco_min_events)
    if len(folds) < 2:
        return {}, pd.DataFrame(columns=["candidate"]), None, np.array([], dtype=int)
    in_loco = [c for c in candidates if c.in_loco]
    loco = cross_predict(
        dev,
        dev_targets,
        in_loco,
        folds,
        times=times,
        tune=default_params,
        tune_specs=candidates[0].specs,
        seed=seed,
        n_jobs=n_jobs,
        on_fold=lambda f: say(f"leave-one-centre-out {f} done"),
    )
    rows = np.sort(np.concatenate([f.test for f in folds]))
    evaluator = _evaluator(dev_targets.iloc[rows], spec, config.evaluation.bootstrap_resamples, seed)
    evals = evaluate_all(evaluator, {name: risk[rows] for name, risk in loco.risks.items()})
    return evals, metric_table(evals, METRICS), loco, rows
