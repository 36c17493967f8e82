"""Typed view of ``training/config.yaml`` (validated with pydantic; unknown keys are errors)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

CONFIG_PATH = Path(__file__).with_name("config.yaml")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RiskGroupConfig(_Strict):
    """Absolute risk-group thresholds on the risk at ``horizon_days``, with their rationale."""

    horizon_days: int
    low: float
    high: float
    rationale: str

    @model_validator(mode="after")
    def _ordered(self) -> RiskGroupConfig:
        if not 0 < self.low < self.high < 1:
            raise ValueError(f"risk_groups: need 0 < low < high < 1, got {self.low} and {self.high}")
        return self


class ThresholdRange(_Strict):
    """A grid of decision thresholds (``start`` to ``stop`` by ``step``)."""

    start: float
    stop: float
    step: float

    def values(self) -> tuple[float, ...]:
        """The thresholds, rounded to avoid float drift (0.10, 0.15, ... 0.90)."""
        return tuple(
            float(v) for v in np.round(np.arange(self.start, self.stop + self.step / 2, self.step), 4)
        )


class EvaluationConfig(_Strict):
    """How candidates are evaluated: folds, held-out share, bootstrap resamples, metric settings."""

    cv_folds: int = Field(ge=2)
    inner_folds: int = Field(ge=2)
    holdout_fraction: float = Field(gt=0, lt=1)
    bootstrap_resamples: int = Field(ge=20)
    holdout_bootstrap_resamples: int = Field(ge=20)
    uno_c_truncation_days: tuple[int, ...]
    brier_grid_step_days: int = Field(ge=1)
    net_benefit_thresholds: ThresholdRange
    calibration_groups: int = Field(ge=2)
    loco_min_events: int = Field(ge=1)
    min_events: int = Field(ge=1)


class SearchConfig(_Strict):
    """The XGBoost hyperparameter search: number of configurations, the space and the defaults."""

    n_configs: int = Field(ge=1)
    space: dict[str, tuple[Any, ...]]
    defaults: dict[str, Any]


class LinearCoxConfig(_Strict):
    """The elastic-net linear Cox model's mixing ratio and penalty path."""

    l1_ratio: float = Field(gt=0, le=1)
    alphas: tuple[float, ...]


class TrainingConfig(_Strict):
    """The training configuration (``training/config.yaml``)."""

    horizons_days: tuple[int, ...]
    risk_groups: RiskGroupConfig
    evaluation: EvaluationConfig
    xgboost_search: SearchConfig
    linear_cox: LinearCoxConfig

    @model_validator(mode="after")
    def _consistent(self) -> TrainingConfig:
        if list(self.horizons_days) != sorted(set(self.horizons_days)):
            raise ValueError("horizons_days must be strictly increasing")
        if self.risk_groups.horizon_days not in self.horizons_days:
            raise ValueError("risk_groups.horizon_days must be one of horizons_days")
        return self

    def brier_grid(self) -> np.ndarray:
        """Days at which the Brier score is integrated: step, 2*step, ... up to the last horizon."""
        step = self.evaluation.brier_grid_step_days
        return np.arange(step, self.horizons_days[-1] + 1, step, dtype=float)

    def evaluation_times(self) -> np.ndarray:
        """The Brier grid and the horizons, sorted and unique (every candidate predicts risk at these)."""
        return np.unique(np.concatenate([self.brier_grid(), np.asarray(self.horizons_days, dtype=float)]))


def load_training_config(path: Path | str | None = None) -> TrainingConfig:
    """Parse and validate a training configuration (the packaged ``config.yaml`` by default)."""
    return _default() if path is None else _parse(Path(path))


@cache
def _default() -> TrainingConfig:
    return _parse(CONFIG_PATH)


def _parse(path: Path) -> TrainingConfig:
    return TrainingConfig.model_validate(yaml.safe_load(path.read_text()))
