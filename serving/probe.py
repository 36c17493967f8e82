"""Check a freshly loaded model before it serves: predict probe rows built from its own metadata.

A model passes when its boosters take exactly the features its metadata lists, and both probe rows
(one with a mid-training-range value for every base feature, one with nothing known) go through the
request path (input schema, derived features, TreeSHAP) and give a risk strictly between 0 and 1 at
every horizon, non-decreasing over the horizons, finite contributions for every feature, a known risk
group, and ``base_value + sum(contributions) == margin == slope * the booster's own margin``.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import xgboost as xgb

from models.predictor import RISK_GROUPS

from .inputs import InputError
from .loader import describe_error
from .model import ServingModel
from .predict import PatientPrediction, predict_patients

ADDITIVITY_TOLERANCE = 1e-4
"""On the margin (log relative hazard); XGBoost computes contributions and margins in float32."""


class ProbeFailure(Exception):  # noqa: N818 -- public name, kept: tests and serving.reload import it
    """The model failed the probe; the message says how (no request data is involved)."""


def probe_model(model: ServingModel) -> None:
    """Predict the probe rows with ``model`` and check the results.

    Args:
        model: a loaded model that is not serving yet.

    Raises:
        ProbeFailure: the first problem found.
    """
    _check_booster_shape(model)
    rows = probe_rows(model)
    try:
        patients = [model.schema.parse(row) for row in rows]
    except InputError as exc:
        raise ProbeFailure(f"probe row rejected by the model's input schema: {exc.issues[0].msg}") from None
    try:
        predictions = predict_patients(model, patients)
        margins = _booster_margins(model, predictions)
    except Exception as exc:  # a booster that does not fit its metadata raises XGBoostError, ValueError, ...
        raise ProbeFailure(f"prediction failed: {describe_error(exc)}") from None
    if len(predictions) != len(rows):
        raise ProbeFailure(f"{len(predictions)} predictions for {len(rows)} probe rows")
    for name, prediction, margin in zip(("typical", "empty"), predictions, margins, strict=True):
        _check_prediction(model, prediction, float(margin), name)


def probe_rows(model: ServingModel) -> list[dict[str, Any]]:
    """A typical patient (the midpoint of each training range, the first level, false) and an empty one."""
    typical: dict[str, Any] = {}
    ranges = model.predictor.metadata.training_ranges
    for name, spec_field in model.schema.fields.items():
        spec = spec_field.spec
        if spec.source == "derived":
            continue  # computed from the base values, as for a request that leaves them out
        if spec.type == "category" and spec.levels:
            typical[name] = spec.levels[0]
        elif spec.type == "bool":
            typical[name] = False
        elif name in ranges:
            typical[name] = _midpoint(ranges[name], spec.range, integer=spec.type == "int")
    return [typical, {}]


def _midpoint(
    training: tuple[float, float], valid: tuple[float, float] | None, *, integer: bool
) -> float | int:
    value = (training[0] + training[1]) / 2
    if valid is not None:
        value = min(max(value, valid[0]), valid[1])
    return round(value) if integer else value


def _check_booster_shape(model: ServingModel) -> None:
    """Check that the boosters take exactly the metadata's features, in order.

    XGBoost is not asked to predict a matrix of another width (with ``validate_features=False`` that can
    corrupt memory).
    """
    names = list(model.predictor.feature_names)
    for label, booster in (
        ("booster", model.predictor.booster),
        ("single-thread booster", model.small_booster),
    ):
        try:
            width, booster_names = booster.num_features(), booster.feature_names
        except Exception as exc:
            raise ProbeFailure(f"the {label} cannot be inspected: {describe_error(exc)}") from None
        if width != len(names):
            raise ProbeFailure(
                f"the {label} takes {width} features but the model's metadata lists {len(names)}"
            )
        if booster_names is not None and list(booster_names) != names:
            raise ProbeFailure(f"the {label}'s feature names differ from the metadata's")


def _booster_margins(model: ServingModel, predictions: list[PatientPrediction]) -> np.ndarray:
    """The model's margin for the completed probe rows: slope x the (multi-threaded) booster's margin."""
    X = model.predictor.encoder.encode_rows([p.values for p in predictions])
    matrix = xgb.DMatrix(X, missing=np.nan, feature_names=list(model.predictor.feature_names))
    raw = model.predictor.booster.predict(matrix, output_margin=True, validate_features=False).astype(
        np.float64
    )
    return model.predictor.metadata.margin_slope * raw


def _check_prediction(model: ServingModel, prediction: PatientPrediction, margin: float, row: str) -> None:
    curve = list(prediction.risk_curve.values())
    if not all(math.isfinite(r) and 0.0 < r < 1.0 for r in curve):
        raise ProbeFailure(f"{row} probe row: risk curve {curve!r} is not strictly between 0 and 1")
    if any(later < earlier for earlier, later in itertools.pairwise(curve)):
        raise ProbeFailure(f"{row} probe row: risk curve {curve!r} decreases over time")
    contributions = np.asarray(prediction.contributions, dtype=np.float64)
    if contributions.shape != (len(model.specs),):
        raise ProbeFailure(
            f"{row} probe row: {contributions.shape} contributions for {len(model.specs)} features"
        )
    if not (math.isfinite(prediction.base_value) and np.isfinite(contributions).all()):
        raise ProbeFailure(f"{row} probe row: base value or contributions are not finite")
    if prediction.risk_group not in RISK_GROUPS:
        raise ProbeFailure(f"{row} probe row: unknown risk group {prediction.risk_group!r}")
    total = prediction.base_value + float(contributions.sum())
    for label, expected in (("the margin", prediction.margin), ("the booster's margin", margin)):
        if not abs(total - expected) <= ADDITIVITY_TOLERANCE * max(1.0, abs(expected)):
            raise ProbeFailure(
                f"{row} probe row: base_value + contributions = {total:.6g} but {label} = {expected:.6g}"
            )
