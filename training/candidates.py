"""The candidate models compared for a landmark: XGBoost (all features and modality ablations),
regularised logistic regression, and the published clinical scores."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from sklearn.base import BaseEstimator

from features.catalogue import FeatureSpec, load_catalogue
from models.logistic import make_logistic_pipeline
from models.scores import CLINICAL_SCORES, ClinicalScoreClassifier
from models.xgb_classifier import XGBRelapseClassifier

Kind = Literal["xgboost", "logistic", "score"]
ABLATION_STEPS: tuple[tuple[str, ...], ...] = (
    ("clinical",),
    ("clinical", "imaging"),
    ("clinical", "imaging", "ctdna"),
    ("clinical", "imaging", "ctdna", "cellular"),
)
MAIN = "xgboost"


@dataclass(frozen=True)
class Candidate:
    """One model recipe: what it sees and how to build it."""

    name: str
    kind: Kind
    specs: tuple[FeatureSpec, ...]
    description: str
    modalities: tuple[str, ...] = ()
    score: str | None = None
    in_loco: bool = True
    fixed_params: dict[str, Any] = field(default_factory=dict)

    def build(self, xgb_params: dict[str, Any] | None = None, seed: int = 0) -> BaseEstimator:
        """A fresh, unfitted estimator (XGBoost candidates take the fold's tuned parameters)."""
        if self.kind == "xgboost":
            return XGBRelapseClassifier(self.specs, random_state=seed, **(xgb_params or {}))
        if self.kind == "logistic":
            return make_logistic_pipeline(self.specs, random_state=seed)
        return ClinicalScoreClassifier(score=self.score or "")


def make_candidates(landmark: str) -> list[Candidate]:
    """Candidates for ``landmark``: the main XGBoost first, then ablations, logistic, scores."""
    specs = tuple(load_catalogue().feature_specs(landmark))
    candidates = [Candidate(MAIN, "xgboost", specs, "XGBoost, all features of the landmark", modalities=ABLATION_STEPS[-1])]
    for step in ABLATION_STEPS[:-1]:
        subset = tuple(s for s in specs if s.modality in step)
        name = "xgboost:" + "+".join(step)
        candidates.append(Candidate(name, "xgboost", subset, f"XGBoost ablation: {' + '.join(step)}", modalities=step, in_loco=False))
    candidates.append(Candidate("logistic", "logistic", specs, "L2 logistic regression, imputation + missing indicators"))
    for score, label in CLINICAL_SCORES.items():
        candidates.append(Candidate(f"score:{score}", "score", specs, f"{label}, one-variable logistic fit", score=score))
    return candidates


def ablation_name(step: tuple[str, ...]) -> str:
    return MAIN if step == ABLATION_STEPS[-1] else "xgboost:" + "+".join(step)
