"""Predict and explain validated patients: the request path of the API (single and batch).

Validated values -> derived features from plain arrays (``features.derived.derive_values``, the one
implementation the feature store also runs; only for rows lacking some) -> the model's encoder
(``RelapsePredictor.encoder``, the one the pyfunc uses) -> the margin and its TreeSHAP explanation
(``RelapsePredictor.explain_matrix``) -> the risk curve and the risk group (``risks`` /
``risk_groups``) -> training-range warnings (``range_warnings``). Every step is the predictor's own,
so the API, batch scoring and the pyfunc return the same numbers; no pandas on this path.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import xgboost as xgb

from features.derived import derive_values
from models.encode import Value
from models.explain import Explanation

from .inputs import PatientValues
from .model import SMALL_BATCH_ROWS, ServingModel


@dataclass(frozen=True)
class PatientPrediction:
    """One patient's prediction; ``values`` are the canonical inputs the model saw (derived included)."""

    relapse_probability: float  # risk by the risk-group horizon (365 days)
    risk_curve: dict[int, float]  # days after the landmark -> risk of progression or death
    risk_group: str
    margin: float  # log relative hazard
    base_value: float
    contributions: np.ndarray  # on the margin, in model feature order
    values: dict[str, Value]
    missing_features: list[str]
    warnings: list[str]


def predict_patients(model: ServingModel, patients: Sequence[PatientValues]) -> list[PatientPrediction]:
    """Predict, explain and check every patient.

    Args:
        model: the landmark's serving model.
        patients: validated values (see ``serving.inputs.InputSchema.parse``).

    Returns:
        One prediction per patient, in order.
    """
    if not patients:
        return []
    rows = complete_derived(model, patients)
    result = explain_rows(model, rows)
    predictor = model.predictor
    margin = result.margin
    risks = predictor.risks(margin)
    headline = predictor.headline_risk(risks)
    groups = predictor.risk_groups(headline)
    horizons = predictor.metadata.horizons_days
    return [
        PatientPrediction(
            relapse_probability=float(headline[i]),
            risk_curve=dict(zip(horizons, map(float, risks[i]), strict=True)),
            risk_group=str(groups[i]),
            margin=float(margin[i]),
            base_value=float(result.base_value[i]),
            contributions=result.contributions[i],
            values=rows[i],
            missing_features=[s.name for s in model.specs if s.name not in rows[i]],
            warnings=predictor.range_warnings(rows[i]),
        )
        for i in range(len(rows))
    ]


def explain_rows(model: ServingModel, rows: Sequence[dict[str, Value]]) -> Explanation:
    """TreeSHAP explanation of canonical rows, encoded by the model's own encoder.

    Small requests run on one thread (``xgb.config_context`` is thread-local): on a busy machine an
    OpenMP team for a single row can wait milliseconds for a core.
    """
    X = model.predictor.encoder.encode_rows(rows)
    if len(rows) > SMALL_BATCH_ROWS:
        return model.predictor.explain_matrix(X)
    with xgb.config_context(nthread=1):
        return model.predictor.explain_matrix(X, booster=model.small_booster)


def complete_derived(model: ServingModel, patients: Sequence[PatientValues]) -> list[dict[str, Value]]:
    """Each patient's values plus the derived features they did not send.

    The derived features are computed by ``derive_values`` from the values they did send (missing when not
    computable or not finite). A derived feature sent as ``null`` stays missing.
    """
    rows = [dict(p.values) for p in patients]
    derived = model.schema.derived
    todo = [i for i, p in enumerate(patients) if any(n not in p.values and n not in p.nulls for n in derived)]
    if not todo:
        return rows
    computed = derive_values(derivation_columns(model, [patients[i] for i in todo]), model.landmark)
    for k, i in enumerate(todo):
        for name in derived:
            value = float(computed[name][k])
            if name not in rows[i] and name not in patients[i].nulls and math.isfinite(value):
                rows[i][name] = value
    return rows


def derivation_columns(model: ServingModel, patients: Sequence[PatientValues]) -> dict[str, np.ndarray]:
    """The base features (and ULN helpers) of ``patients`` as point-in-time columns.

    Laid out as the feature store's point-in-time columns: floats (NaN when missing), categories as objects
    (None when missing). A request carries no dates, so vein-to-vein time is sent or missing.
    """
    columns: dict[str, np.ndarray] = {}
    for name, spec_field in model.schema.fields.items():
        if spec_field.spec.source == "derived":
            continue
        values = [p.values.get(name) for p in patients]
        if spec_field.spec.type == "category":
            columns[name] = np.array(values, dtype=object)
        else:
            columns[name] = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
        if spec_field.reference_high:
            columns[f"{name}__uln"] = np.array([p.uln.get(name, np.nan) for p in patients], dtype=np.float64)
    return columns
