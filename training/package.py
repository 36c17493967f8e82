"""Package the winning gradient-boosted Cox model as the predictor every consumer uses."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd

from models.predictor import ModelMetadata, RelapsePredictor, RiskThresholds
from models.xgb_survival import XGBCoxSurvival

from .candidates import Candidate
from .config import TrainingConfig
from .dataset import TrainingData

SUMMARY_METRICS = ("uno_c_365", "uno_c_730", "auc_365", "brier_365", "ibs", "citl_365")
MIN_VALUES_FOR_RANGE = 20


def package_winner(
    model: XGBCoxSurvival,
    candidate: Candidate,
    data: TrainingData,
    *,
    config: TrainingConfig,
    cv: pd.Series,
    holdout: pd.Series,
    oof_risk: np.ndarray,
) -> RelapsePredictor:
    """The predictor packaged from the winner.

    The winner's booster, its Breslow baseline at the horizons, the configured absolute risk groups with the
    risk observed in each (``oof_risk``: the winner's out-of-fold risk by the groups' horizon for the
    development patients), the central 99% of each training feature (for out-of-range warnings) and headline
    metrics.
    """
    groups = config.risk_groups
    metadata = ModelMetadata(
        landmark=data.landmark,
        horizons_days=config.horizons_days,
        baseline_cumulative_hazard=tuple(float(v) for v in model.baseline_at(config.horizons_days)),
        margin_slope=float(model.slope_),
        features=list(candidate.specs),
        thresholds=RiskThresholds(low=groups.low, high=groups.high, horizon_days=groups.horizon_days),
        observed_risk=observed_risk_by_group(data, oof_risk, config),
        training_ranges=training_ranges(data.frame[data.development], candidate),
        metrics=_metrics(cv, holdout),
        training_fingerprint=data.fingerprint,
        trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    return RelapsePredictor(model.booster_, metadata)


def observed_risk_by_group(
    data: TrainingData, oof_risk: np.ndarray, config: TrainingConfig
) -> dict[str, tuple[float, float, float]]:
    """Kaplan-Meier risk (95% CI) by the groups' horizon in each out-of-fold risk group.

    Over the development set.
    """
    from .observed import km_risk
    from .summaries import risk_group_labels

    targets = data.targets[data.development]
    groups = risk_group_labels(oof_risk, config)
    out = {}
    for level in ("low", "intermediate", "high"):
        members = groups == level
        risk = km_risk(
            targets["time"].to_numpy()[members],
            targets["event"].to_numpy()[members],
            config.risk_groups.horizon_days,
        )
        if members.any() and np.isfinite(risk[0]):
            point, low, high = (float(v) for v in risk)
            out[level] = (point, low, high)
    return out


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
