"""The candidate models compared at a landmark.

Every one learns from all eligible patients, censored ones included, and predicts an absolute risk curve (the
IPCW classifier only at 365 days):

* ``xgboost``: gradient-boosted Cox model (XGBoost ``survival:cox``) on every feature, with a Breslow
  baseline; ``xgboost:<modalities>`` are its modality ablations;
* ``linear_cox``: elastic-net penalised linear Cox model;
* ``score:<name>``: each published clinical score (and at day 30, Deauville alone) as a one-covariate
  Cox model;
* ``ipcw_classifier``: a 12-month XGBoost classifier weighted by inverse probability of censoring,
  a reference only (never packaged).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sklearn.base import BaseEstimator

from features.catalogue import FeatureSpec, load_catalogue
from models.ipcw import IPCWHorizonClassifier
from models.linear_cox import LinearCoxSurvival
from models.scores import CLINICAL_SCORES, RESPONSE_SCORES, ClinicalScoreCox
from models.xgb_survival import XGBCoxSurvival

from .config import load_training_config

Kind = Literal["xgboost", "linear_cox", "score", "ipcw_classifier"]
ABLATION_STEPS: tuple[tuple[str, ...], ...] = (
    ("clinical",),
    ("clinical", "imaging"),
    ("clinical", "imaging", "ctdna"),
    ("clinical", "imaging", "ctdna", "cellular"),
)
MAIN = "xgboost"
IPCW = "ipcw_classifier"


@dataclass(frozen=True)
class Candidate:
    """One model recipe: what it sees and how to build it."""

    name: str
    kind: Kind
    specs: tuple[FeatureSpec, ...]
    description: str
    modalities: tuple[str, ...] = ()
    column: str | None = None
    in_loco: bool = True

    @property
    def packageable(self) -> bool:
        """Only the gradient-boosted Cox models can be packaged (exact TreeSHAP on their margin)."""
        return self.kind == "xgboost"

    def build(self, params: dict[str, dict[str, Any]] | None = None, seed: int = 0) -> BaseEstimator:
        """A fresh, unfitted estimator; XGBoost and linear Cox candidates take the fold's tuned parameters."""
        params = params or {}
        if self.kind == "xgboost":
            return XGBCoxSurvival(self.specs, random_state=seed, **params.get("xgboost", {}))
        if self.kind == "linear_cox":
            return LinearCoxSurvival(
                self.specs,
                l1_ratio=load_training_config().linear_cox.l1_ratio,
                **params.get("linear_cox", {}),
            )
        if self.kind == "ipcw_classifier":
            return IPCWHorizonClassifier(
                self.specs, horizon_days=load_training_config().risk_groups.horizon_days, random_state=seed
            )
        return ClinicalScoreCox(column=self.column or "")


def make_candidates(landmark: str) -> list[Candidate]:
    """Candidates for ``landmark``: the main XGBoost Cox first, then ablations, linear Cox, scores, IPCW."""
    specs = tuple(load_catalogue().feature_specs(landmark))
    names = {s.name for s in specs}
    candidates = [
        Candidate(
            MAIN,
            "xgboost",
            specs,
            "XGBoost survival:cox, all features of the landmark",
            modalities=ABLATION_STEPS[-1],
        )
    ]
    for step in ABLATION_STEPS[:-1]:
        subset = tuple(s for s in specs if s.modality in step)
        candidates.append(
            Candidate(
                ablation_name(step),
                "xgboost",
                subset,
                f"XGBoost Cox ablation: {' + '.join(step)}",
                modalities=step,
                in_loco=False,
            )
        )
    candidates.append(
        Candidate("linear_cox", "linear_cox", specs, "elastic-net Cox, imputation + missing indicators")
    )
    for column, label in {**CLINICAL_SCORES, **RESPONSE_SCORES}.items():
        if column in names:
            name = "score:deauville" if column == "deauville_day30" else f"score:{column}"
            candidates.append(
                Candidate(name, "score", specs, f"{label}, one-covariate Cox model", column=column)
            )
    candidates.append(
        Candidate(
            IPCW,
            "ipcw_classifier",
            specs,
            "reference: 12-month XGBoost classifier with IPCW weights (no risk curve)",
            in_loco=False,
        )
    )
    return candidates


def ablation_name(step: tuple[str, ...]) -> str:
    """The candidate name of an ablation step (``xgboost`` for the full feature set)."""
    return MAIN if step == ABLATION_STEPS[-1] else "xgboost:" + "+".join(step)
