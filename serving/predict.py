"""Predict and explain validated patients: the request path of the API (single and batch).

Validated values -> derived features (``features.derived.add_derived_features``, only for rows
lacking some) -> the float32 matrix ``models.encode.encode_features`` would build -> the model's
margin and its TreeSHAP explanation (``RelapsePredictor.explain_matrix``) -> the risk curve and the
risk group (``RelapsePredictor.risks`` / ``risk_groups``). The same booster, encoding, explanation and
baseline hazard as the pyfunc's ``RelapsePredictor.predict_frame``, without pandas on the hot path.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xgboost as xgb

from features.derived import add_derived_features
from models.explain import Explanation

from .inputs import PatientValues, Value
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
            relapse_probability=float(headline[i]), risk_curve=dict(zip(horizons, map(float, risks[i]), strict=True)),
            risk_group=str(groups[i]), margin=float(margin[i]), base_value=float(result.base_value[i]),
            contributions=result.contributions[i], values=rows[i],
            missing_features=[s.name for s in model.specs if s.name not in rows[i]],
            warnings=range_warnings(model, rows[i]),
        )
        for i in range(len(rows))
    ]


def explain_rows(model: ServingModel, rows: Sequence[dict[str, Value]]) -> Explanation:
    """TreeSHAP explanation of canonical rows with the model's booster.

    Small requests run on one thread (``xgb.config_context`` is thread-local): on a busy machine an
    OpenMP team for a single row can wait milliseconds for a core.
    """
    X = encode_rows(model, rows)
    if len(rows) > SMALL_BATCH_ROWS:
        return model.predictor.explain_matrix(X)
    with xgb.config_context(nthread=1):
        return model.predictor.explain_matrix(X, booster=model.small_booster)


def encode_rows(model: ServingModel, rows: Sequence[dict[str, Value]]) -> np.ndarray:
    """The float32 matrix ``encode_features`` gives for the same values (level index for categories)."""
    X = np.full((len(rows), len(model.specs)), np.nan, dtype=np.float32)
    for j, spec in enumerate(model.specs):
        codes = model.level_codes.get(spec.name)
        for i, row in enumerate(rows):
            value = row.get(spec.name)
            if value is not None:
                X[i, j] = codes[value] if codes is not None else value  # type: ignore[index]
    return X


def complete_derived(model: ServingModel, patients: Sequence[PatientValues]) -> list[dict[str, Value]]:
    """Each patient's values plus the derived features they did not send, computed by
    ``add_derived_features`` from the values they did send (missing when not computable or not
    finite). A derived feature sent as ``null`` stays missing."""
    rows = [dict(p.values) for p in patients]
    derived = model.schema.derived
    todo = [i for i, p in enumerate(patients) if any(n not in p.values and n not in p.nulls for n in derived)]
    if not todo:
        return rows
    computed = add_derived_features(_derivation_frame(model, [patients[i] for i in todo]), model.landmark)
    columns = {name: computed[name].to_numpy(dtype=float) for name in derived}
    for k, i in enumerate(todo):
        for name in derived:
            if name not in rows[i] and name not in patients[i].nulls and math.isfinite(columns[name][k]):
                rows[i][name] = float(columns[name][k])
    return rows


def range_warnings(model: ServingModel, row: dict[str, Value]) -> list[str]:
    """A warning for each value outside the central 99% of the model's training data."""
    warnings = []
    for j, name, low, high in model.training_ranges:
        value = row.get(name)
        if isinstance(value, float) and not low <= value <= high:
            unit = model.specs[j].unit
            warnings.append(f"{name} = {value:g} {unit} is outside the training data's central 99% "
                            f"({low:g} to {high:g}); the prediction extrapolates".replace("  ", " "))
    return warnings


def _derivation_frame(model: ServingModel, patients: Sequence[PatientValues]) -> pd.DataFrame:
    """The base features (and ULN helpers) of ``patients`` as the feature store lays them out."""
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
    for column in ("apheresis_date", "infusion_date"):
        columns[column] = np.full(len(patients), np.datetime64("NaT"), dtype="datetime64[ns]")
    return pd.DataFrame(columns)
