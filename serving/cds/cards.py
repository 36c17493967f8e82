"""The cards a CDS service answers with: one risk card, or one information card saying why there is no risk.

A risk card: ``summary`` (< 140 characters) with the 12-month risk and the risk group; ``indicator``
from the group (low ``info``, intermediate ``warning``, high ``critical``); ``source.label`` naming the
model and its version; ``detail`` (GitHub-flavoured Markdown) with the risk at 3/6/12/24 months, the
group's observed risk in training, the top drivers with their values and units, the missing features,
what was not used, the out-of-range warnings and the synthetic-data notice; a link to the clinician
page; and the numbers themselves in ``extension`` (``dev.cart-relapse.prediction``).
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from features.catalogue import Catalogue

from ..display import feature_label, format_value, hazard_factor, horizon_label, percent, signed
from ..model import ServingModel
from ..predict import PatientPrediction
from .landmark import NoRisk
from .point_in_time import Features
from .services import CdsService

INDICATORS = {"low": "info", "intermediate": "warning", "high": "critical"}
EXTENSION = "dev.cart-relapse.prediction"
TOP_DRIVERS = 5
MISSING_SHOWN = 12
SUMMARY_LIMIT = 140


@dataclass(frozen=True)
class CardContext:
    """What every card of one call shares."""

    service: CdsService
    model: ServingModel
    catalogue: Catalogue


def risk_card(
    context: CardContext,
    prediction: PatientPrediction,
    features: Features,
    *,
    landmark_date: date,
    link: str,
) -> dict[str, Any]:
    """The card of a prediction.

    Args:
        context: the service, its model and the catalogue.
        prediction: ``predict_patients`` of the prefetch's features.
        features: what was read from the prefetch (for the accounting lines).
        landmark_date: the day the prediction is as of.
        link: the absolute URL of the clinician page for this card.
    """
    meta = context.model.predictor.metadata
    horizon = horizon_label(meta.thresholds.horizon_days)
    summary = (
        f"{context.service.title}: {percent(prediction.relapse_probability)} risk of progression or death "
        f"by {horizon} ({prediction.risk_group} risk group; synthetic-data model)"
    )
    return {
        "uuid": str(uuid.uuid4()),
        "summary": summary[: SUMMARY_LIMIT - 1],
        "indicator": INDICATORS[prediction.risk_group],
        "source": {"label": model_label(context.model)},
        "detail": _detail(context, prediction, features, landmark_date),
        "links": [
            {
                "label": "Open in the clinician page (risk curve, every driver)",
                "url": link,
                "type": "absolute",
            }
        ],
        "extension": {EXTENSION: _numbers(context, prediction, landmark_date)},
    }


def no_risk_card(context: CardContext, no_risk: NoRisk) -> dict[str, Any]:
    """An ``info`` card saying why the model gives no risk for this patient now."""
    summary = f"{context.service.title}: no risk given ({no_risk.reason.replace('-', ' ')})"
    detail = f"No risk is given: {no_risk.message}.\n\n> {context.model.predictor.metadata.notice}"
    return {
        "uuid": str(uuid.uuid4()),
        "summary": summary[: SUMMARY_LIMIT - 1],
        "indicator": "info",
        "source": {"label": model_label(context.model)},
        "detail": detail,
    }


def model_label(model: ServingModel) -> str:
    """``cart-relapse-day30 version 7 (synthetic data)``."""
    version = f" version {model.version}" if model.version else ""
    return f"{model.name}{version} (synthetic data)"


def _detail(
    context: CardContext, prediction: PatientPrediction, features: Features, landmark_date: date
) -> str:
    """Markdown paragraphs: risks, group, drivers, what is missing or unused, the caveats, the notice."""
    meta = context.model.predictor.metadata
    when = "the infusion day" if context.service.day == 0 else f"day {context.service.day} after infusion"
    horizons = list(prediction.risk_curve)
    risks = "\n".join(
        [
            f"**Risk of {meta.outcome}** after the landmark, as known on {when} "
            f"({landmark_date.isoformat()}):",
            "",
            "| " + " | ".join(horizon_label(d) for d in horizons) + " |",
            "|" + "---|" * len(horizons),
            "| " + " | ".join(percent(prediction.risk_curve[d]) for d in horizons) + " |",
        ]
    )
    paragraphs = [
        risks,
        _group_line(context, prediction),
        "\n".join(_drivers(context, prediction)),
        *_accounting(context, prediction, features),
    ]
    if context.service.day > 0:
        paragraphs.append(
            "The day-30 model is for patients alive and free of progression at day 30; the prefetch "
            "does not say whether the disease has progressed."
        )
    return "\n\n".join([*paragraphs, f"> {meta.notice}"])


def _group_line(context: CardContext, prediction: PatientPrediction) -> str:
    meta = context.model.predictor.metadata
    t, horizon = meta.thresholds, horizon_label(meta.thresholds.horizon_days)
    line = (
        f"Risk group **{prediction.risk_group}** (risk by {horizon}: low below {_whole(t.low)}, intermediate "
        f"from {_whole(t.low)}, high from {_whole(t.high)})."
    )
    observed = meta.observed_risk.get(prediction.risk_group)
    if observed:
        line += (
            f" In training, this group's observed risk by {horizon} was {percent(observed[0])} "
            f"(95% CI {percent(observed[1])} to {percent(observed[2])})."
        )
    return line


def _whole(probability: float) -> str:
    return f"{100 * probability:g}%"


def _drivers(context: CardContext, prediction: PatientPrediction) -> list[str]:
    specs = context.model.specs
    order = np.argsort(-np.abs(prediction.contributions), kind="stable")[:TOP_DRIVERS]
    lines = [
        "**Top drivers** (TreeSHAP on the log relative hazard; + raises the risk):",
        "",
        "| feature | value | effect |",
        "|---|---|---|",
    ]
    for j in order:
        spec, contribution = specs[j], float(prediction.contributions[j])
        lines.append(
            f"| {feature_label(spec, context.catalogue)} (`{spec.name}`) | "
            f"{format_value(spec, prediction.values.get(spec.name))} | "
            f"{signed(contribution)} ({hazard_factor(contribution)} hazard) |"
        )
    return lines


def _accounting(context: CardContext, prediction: PatientPrediction, features: Features) -> list[str]:
    missing = prediction.missing_features
    shown = ", ".join(f"`{name}`" for name in missing[:MISSING_SHOWN])
    more = f" and {len(missing) - MISSING_SHOWN} more" if len(missing) > MISSING_SHOWN else ""
    lines = [
        f"**Missing** ({len(missing)} of {len(context.model.specs)} model inputs): {shown or 'none'}{more}."
    ]
    reasons = Counter(item.reason for item in features.not_used)
    if reasons:
        lines.append(
            "**Not used** (quarantined as ingest would): "
            + ", ".join(f"{n} {reason}" for reason, n in reasons.most_common())
            + "."
        )
    later = [
        (features.after_landmark, "reported after the landmark day"),
        (features.after_request, "issued after this request"),
        (features.outside_windows, "collected outside the landmark's windows"),
    ]
    if any(n for n, _ in later):
        lines.append("Not in the model's view: " + ", ".join(f"{n} {what}" for n, what in later if n) + ".")
    lines += [f"Outside the training data: {warning}." for warning in prediction.warnings]
    return lines


def _numbers(context: CardContext, prediction: PatientPrediction, landmark_date: date) -> dict[str, Any]:
    model = context.model
    return {
        "landmark": model.landmark,
        "landmark_date": landmark_date.isoformat(),
        "relapse_probability": prediction.relapse_probability,
        "risk_curve": {str(days): risk for days, risk in prediction.risk_curve.items()},
        "risk_group": prediction.risk_group,
        "margin": prediction.margin,
        "model": {"name": model.name, "version": model.version},
    }
