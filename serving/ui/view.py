"""What the page shows of one prediction.

The risk curve, the risk group with the rate observed in training, the largest contributions with their values
and units, the missing features, the out-of-range warnings, the model and its version (the numbers are
``predict_patients``', unchanged).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.catalogue import Catalogue, FeatureSpec

from ..display import feature_label, format_value, hazard_factor, horizon_label, percent, short_label, signed
from ..model import ServingModel
from ..predict import PatientPrediction
from .charts import Curve, Waterfall, risk_curve, waterfall

WATERFALL_STEPS = 10
CHART_LABEL = 58
"""Characters of a waterfall label (the chart's label column holds about 60 at its font size)."""


@dataclass(frozen=True)
class Driver:
    """One contribution as shown: the feature, its value, the hazard factor and its direction."""

    name: str
    label: str
    short: str
    value: str
    contribution: str
    factor: str
    direction: str  # "raises" or "lowers"


@dataclass(frozen=True)
class Risk:
    """The risk at one horizon, as a number and as shown."""

    days: int
    label: str
    shown: str
    value: float


@dataclass(frozen=True)
class ResultView:
    """Everything the result page shows of one prediction."""

    headline: Risk
    risk_group: str
    group_rule: str
    observed: str | None
    risks: list[Risk]
    curve: Curve
    waterfall: Waterfall
    drivers: list[Driver]
    others: str
    missing: list[tuple[str, str]]
    warnings: list[str]
    used: list[tuple[str, str, str]]
    model_label: str
    outcome: str


def result_view(model: ServingModel, prediction: PatientPrediction, catalogue: Catalogue) -> ResultView:
    """The page's view of ``prediction`` made by ``model``.

    Args:
        model: the landmark's serving model (specs, metadata, version).
        prediction: one ``predict_patients`` result.
        catalogue: names the features.
    """
    meta = model.predictor.metadata
    t = meta.thresholds
    risks = [Risk(d, horizon_label(d), percent(r), r) for d, r in prediction.risk_curve.items()]
    headline = next(r for r in risks if r.days == t.horizon_days)
    drivers = _drivers(model, prediction, catalogue)
    shown = {d.name for d in drivers}
    rest = float(
        sum(
            c for spec, c in zip(model.specs, prediction.contributions, strict=True) if spec.name not in shown
        )
    )
    steps = [
        (_chart_label(d), float(c), d.contribution)
        for d, c in zip(drivers, _contributions(model, prediction, [d.name for d in drivers]), strict=True)
    ]
    others = f"{len(model.specs) - len(drivers)} other features"
    if len(model.specs) > len(drivers):
        steps.append((others, rest, signed(rest)))
    curve = risk_curve(
        [(r.days, r.value, r.shown) for r in risks],
        [
            (t.low, f"intermediate from {100 * t.low:g}% ({headline.label})"),
            (t.high, f"high from {100 * t.high:g}% ({headline.label})"),
        ],
    )
    return ResultView(
        headline=headline,
        risk_group=prediction.risk_group,
        group_rule=f"by the risk at {headline.label}: low below {100 * t.low:g}%, "
        f"intermediate from {100 * t.low:g}%, high from {100 * t.high:g}%",
        observed=_observed(model, prediction.risk_group, headline.label),
        risks=risks,
        curve=curve,
        waterfall=waterfall(prediction.base_value, steps, prediction.margin),
        drivers=drivers,
        others=others,
        missing=[
            (name, feature_label(_spec(model, name), catalogue)) for name in prediction.missing_features
        ],
        warnings=list(prediction.warnings),
        used=[
            (feature_label(s, catalogue), s.name, format_value(s, prediction.values.get(s.name)))
            for s in model.specs
            if s.name in prediction.values
        ],
        model_label=f"{model.name} version {model.version or '(unversioned)'}",
        outcome=meta.outcome,
    )


def _drivers(model: ServingModel, prediction: PatientPrediction, catalogue: Catalogue) -> list[Driver]:
    order = np.argsort(-np.abs(prediction.contributions), kind="stable")[:WATERFALL_STEPS]
    out = []
    for j in order:
        spec, contribution = model.specs[j], float(prediction.contributions[j])
        out.append(
            Driver(
                spec.name,
                feature_label(spec, catalogue),
                short_label(spec),
                format_value(spec, prediction.values.get(spec.name)),
                signed(contribution),
                hazard_factor(contribution),
                "raises" if contribution > 0 else "lowers",
            )
        )
    return out


def _chart_label(driver: Driver, limit: int = CHART_LABEL) -> str:
    """``name = value`` for the chart, the name shortened first so that the value always shows."""
    value = f" = {driver.value}"
    name = (
        driver.short
        if len(driver.short) + len(value) <= limit
        else driver.short[: limit - len(value) - 1] + "\u2026"
    )
    return name + value


def _contributions(model: ServingModel, prediction: PatientPrediction, names: list[str]) -> list[float]:
    index = {spec.name: j for j, spec in enumerate(model.specs)}
    return [float(prediction.contributions[index[name]]) for name in names]


def _observed(model: ServingModel, group: str, horizon: str) -> str | None:
    observed = model.predictor.metadata.observed_risk.get(group)
    if not observed:
        return None
    return (
        f"In the training data, patients the model put in this group had an observed risk by {horizon} of "
        f"{percent(observed[0])} (95% CI {percent(observed[1])} to {percent(observed[2])}, Kaplan-Meier)."
    )


def _spec(model: ServingModel, name: str) -> FeatureSpec:
    return next(s for s in model.specs if s.name == name)
