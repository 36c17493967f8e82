"""Package the winning gradient-boosted Cox model as the predictor every consumer uses."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from models.predictor import ModelMetadata, RelapsePredictor, RiskThresholds
from models.xgb_survival import XGBCoxSurvival

from .candidates import Candidate
from .config import TrainingConfig
from .dataset import TrainingData

SUMMARY_METRICS = ("uno_c_365", "uno_c_730", "auc_365", "brier_365", "ibs", "citl_365")
MIN_VALUES_FOR_RANGE = 20


def package_winner(
    model: XGBCoxSurvival, candidate: Candidate, data: TrainingData, *, config: TrainingConfig, cv: pd.Series,
    holdout: pd.Series,
) -> RelapsePredictor:
    """The predictor: the winner's booster, its Breslow baseline at the horizons, the configured absolute
    risk groups, the central 99% of each training feature (for out-of-range warnings) and headline metrics."""
    groups = config.risk_groups
    metadata = ModelMetadata(
        landmark=data.landmark, horizons_days=config.horizons_days,
        baseline_cumulative_hazard=tuple(float(v) for v in model.baseline_at(config.horizons_days)),
        margin_slope=float(model.slope_),
        features=list(candidate.specs), thresholds=RiskThresholds(low=groups.low, high=groups.high, horizon_days=groups.horizon_days),
        training_ranges=training_ranges(data.frame[data.development], candidate), metrics=_metrics(cv, holdout),
        training_fingerprint=data.fingerprint, trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    return RelapsePredictor(model.booster_, metadata)


def training_ranges(dev: pd.DataFrame, candidate: Candidate) -> dict[str, tuple[float, float]]:
    """Central 99% (0.5th to 99.5th percentile) of each numeric feature with enough values."""
    ranges = {}
    for spec in candidate.specs:
        if spec.type in ("float", "int") and spec.name in dev:
            values = pd.to_numeric(dev[spec.name], errors="coerce").dropna()
            if len(values) >= MIN_VALUES_FOR_RANGE:
                ranges[spec.name] = (float(values.quantile(0.005)), float(values.quantile(0.995)))
    return ranges


def _metrics(cv: pd.Series, holdout: pd.Series) -> dict[str, float]:
    out = {}
    for prefix, row in (("cv", cv), ("holdout", holdout)):
        for metric in SUMMARY_METRICS:
            for suffix in ("", "_lo", "_hi"):
                value = row.get(metric + suffix)
                if value is not None and pd.notna(value):
                    out[f"{prefix}_{metric}{suffix}"] = float(value)
    return out
