"""The reference profile of a model: what its training features and scores looked like.

Built once at training (:func:`build_reference_profile`), stored as ``drift_profile.json`` inside
the logged pyfunc model so it travels with every registered version, and compared with a new batch
by :func:`models.drift.compare_to_profile`. Plain JSON: numbers, lists and strings only.

Per numeric feature: reference decile bin edges (ties and point masses such as ctDNA's zeros
collapse into one right-closed bin), counts per bin, missing count, quantiles, a deterministic
random sample of up to 2,000 values for the two-sample Kolmogorov-Smirnov test, and for float
features the median (with its bootstrap standard error) pooled and per centre, for the unit check.
Per category (and bool) feature: counts per level. The score gets the numeric treatment.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from features.catalogue import FeatureSpec

from .drift_stats import bin_counts, log10_median_se

PROFILE_FORMAT = "cart-relapse-drift-profile/1"
PROFILE_ARTIFACT = "drift_profile"
"""Key of the profile in the pyfunc's ``artifacts`` (the file is ``drift_profile.json``)."""
SCORE_COLUMN = "relapse_probability"
CENTRE_COLUMN = "center"
SAMPLE_SIZE = 2_000
MIN_CENTRE_VALUES = 20
"""A centre's median is profiled (and checked for a unit factor) only with this many values."""
BOOL_LEVELS = ("false", "true")
_DECILES = np.linspace(0.1, 0.9, 9)
_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def build_reference_profile(
    frame: pd.DataFrame,
    specs: Sequence[FeatureSpec],
    scores: Sequence[float] | np.ndarray,
    *,
    centre_column: str = CENTRE_COLUMN,
    sample_size: int = SAMPLE_SIZE,
    seed: int = 0,
) -> dict[str, Any]:
    """Profile the model's input features and its scores.

    Args:
        frame: the development feature frame (one row per patient, a column per feature).
        specs: the model's features (their ``type`` decides numeric or categorical).
        scores: the model's ``relapse_probability`` on patients it was not fitted on (e.g. the
            held-out set): new patients are compared with that, not with in-sample scores.
        centre_column: per-centre medians are kept when this column is present.
        sample_size: at most this many values are kept per feature for the KS test.
        seed: seeds the sample and the bootstrap (the profile is deterministic).

    Returns:
        The JSON-serialisable profile.

    Raises:
        KeyError: a feature of ``specs`` is not a column of ``frame``.
    """
    missing = [s.name for s in specs if s.name not in frame.columns]
    if missing:
        raise KeyError(f"the reference frame lacks feature column(s) {missing[:10]}")
    centres = frame[centre_column].astype(str).to_numpy() if centre_column in frame.columns else None
    features = {}
    for spec in specs:
        if feature_kind(spec) == "categorical":
            features[spec.name] = profile_categorical(categorical_values(frame[spec.name], spec.type), spec)
        else:
            features[spec.name] = profile_numeric(
                numeric_values(frame[spec.name]),
                spec=spec,
                centres=centres,
                sample_size=sample_size,
                seed=seed,
            )
    score = profile_numeric(
        np.asarray(scores, dtype=float), spec=None, centres=None, sample_size=sample_size, seed=seed
    )
    return {
        "format": PROFILE_FORMAT,
        "n_rows": len(frame),
        "centre_column": centre_column if centres is not None else None,
        "features": features,
        "score": {"name": SCORE_COLUMN, **score},
    }


def feature_kind(spec: FeatureSpec) -> str:
    """``categorical`` for category and bool features (chi-square), else ``numeric`` (KS)."""
    return "categorical" if spec.type in ("category", "bool") else "numeric"


def numeric_values(column: pd.Series) -> np.ndarray:
    """A column as float64 (unparseable values become missing)."""
    return pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)


def categorical_values(column: pd.Series, value_type: str) -> np.ndarray:
    """A column as strings, None for missing; bools (``value_type`` ``bool``, 0/1) as ``false``/``true``."""
    if value_type == "bool":
        numbers = numeric_values(column)
        labels = np.where(
            numbers == 1, BOOL_LEVELS[1], np.where(numbers == 0, BOOL_LEVELS[0], numbers.astype(str))
        ).astype(object)
        labels[np.isnan(numbers)] = None
        return labels
    return np.asarray([None if pd.isna(v) else str(v) for v in column], dtype=object)


def profile_numeric(
    values: np.ndarray,
    *,
    spec: FeatureSpec | None,
    centres: np.ndarray | None,
    sample_size: int,
    seed: int,
) -> dict[str, Any]:
    """Bins, counts, quantiles and a KS sample of numeric values (NaN = missing)."""
    present = ~np.isnan(values)
    known = values[present]
    out: dict[str, Any] = {
        "kind": "numeric",
        "type": spec.type if spec else "float",
        "unit": spec.unit if spec else "",
        "n": len(values),
        "n_missing": int((~present).sum()),
    }
    if len(known) == 0:
        return out | {"edges": [], "counts": [0], "quantiles": {}, "median": None, "sample": []}
    edges = np.unique(np.quantile(known, _DECILES))
    out |= {
        "edges": [float(e) for e in edges],
        "counts": [int(c) for c in bin_counts(known, edges)],
        "quantiles": {
            str(q): float(v) for q, v in zip(_QUANTILES, np.quantile(known, _QUANTILES), strict=True)
        },
        "median": float(np.median(known)),
        "mean": float(np.mean(known)),
        "sample": _sample(known, sample_size, seed),
    }
    if spec is not None and spec.type == "float":
        out["unit_check"] = _medians(values, centres, seed)
    return out


def profile_categorical(values: np.ndarray, spec: FeatureSpec) -> dict[str, Any]:
    """Counts per level (catalogue levels first, then any other value seen) and the missing count."""
    present = np.array([v is not None for v in values], dtype=bool)
    levels = list(BOOL_LEVELS if spec.type == "bool" else spec.levels or ())
    seen = pd.Series(values[present]).value_counts()
    levels += sorted(str(v) for v in seen.index if v not in levels)
    return {
        "kind": "categorical",
        "type": spec.type,
        "unit": spec.unit,
        "n": len(values),
        "n_missing": int((~present).sum()),
        "levels": levels,
        "counts": [int(seen.get(lv, 0)) for lv in levels],
    }


def _medians(values: np.ndarray, centres: np.ndarray | None, seed: int) -> dict[str, Any]:
    """Median and bootstrap SE of log10(median), pooled (``all``) and per centre with enough values."""
    groups = (
        {"all": values}
        if centres is None
        else {"all": values} | {str(c): values[centres == c] for c in np.unique(centres)}
    )
    out = {}
    for name, group in groups.items():
        known = group[~np.isnan(group)]
        median = float(np.median(known)) if len(known) else 0.0
        if len(known) >= MIN_CENTRE_VALUES and median > 0:
            out[name] = {
                "n": len(known),
                "median": median,
                "log10_se": log10_median_se(known, seed=seed),
            }
    return out


def _sample(values: np.ndarray, size: int, seed: int) -> list[float]:
    """Up to ``size`` values drawn without replacement (all when fewer), sorted, 7 significant digits."""
    if len(values) > size:
        values = np.random.default_rng(seed).choice(values, size=size, replace=False)
    return [float(f"{v:.7g}") for v in np.sort(values)]
