"""Compare a batch of patients (and the model's scores on them) with the model's reference profile.

Flag rule, per feature (``FLAG_RULE``): flagged when any of

- the median moved by a unit factor (10x, 100x, 1000x or an inverse), pooled or at one centre;
- the missing share changed by at least 0.20 (absolute);
- PSI >= 0.25 and p < 0.01, or PSI >= 0.10 and p < 0.001, where p is the smaller of the
  distribution test's (KS or chi-square) and the missingness test's p-values.

PSI 0.10 / 0.25 are the conventional "moderate" / "large" shifts. The p-value conditions keep
sampling noise out: a PSI of about ``(bins - 1) * (1/n_batch + 1/n_reference)`` (0.1 for a
100-row batch) appears by chance alone, so a shift must also be statistically clear. The score
(``relapse_probability``) gets the same PSI rule.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .drift_profile import (
    MIN_CENTRE_VALUES,
    PROFILE_FORMAT,
    categorical_values,
    numeric_values,
)
from .drift_stats import (
    UNIT_MAX_TOLERANCE,
    bin_counts,
    chi2_test,
    ks_test,
    log10_median_se,
    missing_test,
    psi,
    unit_factor,
)

DRIFT_FORMAT = "cart-relapse-drift/1"
FLAG_RULE = {
    "psi_large": 0.25,
    "p_large": 0.01,
    "psi_moderate": 0.10,
    "p_moderate": 0.001,
    "missing_change": 0.20,
}
_SE_SUBSAMPLE = 5_000


class ProfileError(ValueError):
    """The reference profile is missing, of another format, or does not fit the batch."""


def compare_to_profile(
    profile: dict[str, Any],
    frame: pd.DataFrame,
    scores: Sequence[float] | np.ndarray | None = None,
) -> dict[str, Any]:
    """Drift of every profiled feature (ranked, most drifted first) and of the score.

    Args:
        profile: from :func:`models.drift_profile.build_reference_profile`.
        frame: the batch's feature frame (a ``center`` column enables the per-centre unit check).
        scores: the model's ``relapse_probability`` for the batch's rows (None: no score section).

    Returns:
        ``{"format", "n_rows", "rule", "features": [...], "score": {...} | None, "summary"}``; each
        feature has ``name, rank, psi, p_value, missing_change, flagged`` and the details behind them.

    Raises:
        ProfileError: the profile has another format or the batch lacks profiled columns.
    """
    if profile.get("format") != PROFILE_FORMAT:
        raise ProfileError(
            f"unsupported drift profile format {profile.get('format')!r}; expected {PROFILE_FORMAT!r}"
        )
    absent = [name for name in profile["features"] if name not in frame.columns]
    if absent:
        raise ProfileError(
            f"the batch lacks profiled feature column(s) {absent[:10]}{' ...' if len(absent) > 10 else ''}"
        )
    centre_column = profile.get("centre_column")
    centres = (
        frame[centre_column].astype(str).to_numpy()
        if centre_column and centre_column in frame.columns
        else None
    )
    features = [
        compare_feature(name, reference, frame[name], centres)
        for name, reference in profile["features"].items()
    ]
    features.sort(key=lambda f: (not f["flagged"], -f["psi"], f["name"]))
    for rank, feature in enumerate(features, start=1):
        feature["rank"] = rank
    score = None if scores is None else compare_score(profile["score"], np.asarray(scores, dtype=float))
    flagged = [f["name"] for f in features if f["flagged"]]
    return {
        "format": DRIFT_FORMAT,
        "n_rows": len(frame),
        "reference_rows": profile.get("n_rows"),
        "rule": dict(FLAG_RULE),
        "features": features,
        "score": score,
        "summary": {
            "n_features": len(features),
            "n_flagged": len(flagged),
            "flagged": flagged,
            "score_flagged": bool(score and score["flagged"]),
        },
    }


def compare_feature(
    name: str, reference: dict[str, Any], column: pd.Series, centres: np.ndarray | None
) -> dict[str, Any]:
    """One feature's PSI, test, missingness change, unit check and verdict."""
    if reference["kind"] == "categorical":
        entry = _compare_categorical(reference, categorical_values(column, reference["type"]))
    else:
        entry = _compare_numeric(reference, numeric_values(column), centres)
    flagged, reasons = verdict(
        entry["psi"],
        [entry["p_value"], entry["missing_p_value"]],
        entry["missing_change"],
        entry.get("unit_suspect", []),
    )
    return {"name": name, **entry, "flagged": flagged, "reasons": reasons}


def compare_score(reference: dict[str, Any], scores: np.ndarray) -> dict[str, Any]:
    """The score distribution's shift (PSI on reference deciles, KS), flagged by the PSI rule."""
    entry = _compare_numeric(reference, scores, None)
    flagged, reasons = verdict(entry["psi"], [entry["p_value"]], 0.0, [])
    known = scores[~np.isnan(scores)]
    means = {
        "reference_mean": reference.get("mean"),
        "batch_mean": float(np.mean(known)) if len(known) else None,
    }
    return {
        "name": reference.get("name", "relapse_probability"),
        **entry,
        **means,
        "flagged": flagged,
        "reasons": reasons,
    }


def verdict(
    psi_value: float,
    p_values: Sequence[float | None],
    missing_change: float,
    unit_suspect: Sequence[dict[str, Any]],
) -> tuple[bool, list[str]]:
    """Apply :data:`FLAG_RULE`; returns (flagged, the reasons in words)."""
    reasons = [
        f"median x{u['ratio']:.3g} ({'pooled' if u['centre'] == 'all' else 'centre ' + u['centre']}): "
        f"unit factor {u['factor']}?"
        for u in unit_suspect
    ]
    if abs(missing_change) >= FLAG_RULE["missing_change"]:
        reasons.append(f"missing share changed by {missing_change:+.2f}")
    known = [p for p in p_values if p is not None]
    p = min(known) if known else None
    if p is not None and psi_value >= FLAG_RULE["psi_large"] and p < FLAG_RULE["p_large"]:
        reasons.append(f"PSI {psi_value:.2f} >= {FLAG_RULE['psi_large']} (p = {p:.1e})")
    elif p is not None and psi_value >= FLAG_RULE["psi_moderate"] and p < FLAG_RULE["p_moderate"]:
        reasons.append(f"PSI {psi_value:.2f} >= {FLAG_RULE['psi_moderate']} (p = {p:.1e})")
    return bool(reasons), reasons


def _compare_numeric(
    reference: dict[str, Any], values: np.ndarray, centres: np.ndarray | None
) -> dict[str, Any]:
    present = ~np.isnan(values)
    known = values[present]
    n_missing = int((~present).sum())
    edges = reference["edges"]
    ref_counts = np.array([*reference["counts"], reference["n_missing"]])
    batch_counts = np.array([*bin_counts(known, edges), n_missing])
    statistic, p_value = ks_test(np.asarray(reference["sample"], dtype=float), known)
    entry = {
        "kind": "numeric",
        "test": "ks",
        "statistic": statistic,
        "p_value": p_value,
        "psi": psi(ref_counts, batch_counts),
        **_missingness(reference, n_missing, len(values)),
        "reference_median": reference.get("median"),
        "batch_median": float(np.median(known)) if len(known) else None,
        "bins": _bins(_numeric_labels(edges), ref_counts, batch_counts),
    }
    if "unit_check" in reference:
        entry["unit_suspect"] = unit_suspects(reference["unit_check"], values, centres)
    return entry


def _compare_categorical(reference: dict[str, Any], values: np.ndarray) -> dict[str, Any]:
    present = np.array([v is not None for v in values], dtype=bool)
    seen = pd.Series(values[present], dtype=object).value_counts()
    levels = list(reference["levels"]) + sorted(str(v) for v in seen.index if v not in reference["levels"])
    ref_level_counts = np.array(list(reference["counts"]) + [0] * (len(levels) - len(reference["levels"])))
    batch_level_counts = np.array([int(seen.get(level, 0)) for level in levels])
    statistic, p_value = chi2_test(ref_level_counts, batch_level_counts)
    n_missing = int((~present).sum())
    ref_counts = np.append(ref_level_counts, reference["n_missing"])
    batch_counts = np.append(batch_level_counts, n_missing)
    return {
        "kind": "categorical",
        "test": "chi2",
        "statistic": statistic,
        "p_value": p_value,
        "psi": psi(ref_counts, batch_counts),
        **_missingness(reference, n_missing, len(values)),
        "bins": _bins(levels, ref_counts, batch_counts),
    }


def unit_suspects(
    reference: dict[str, Any], values: np.ndarray, centres: np.ndarray | None
) -> list[dict[str, Any]]:
    """Groups (``all`` and each centre) whose median sits a power of ten away from the reference median.

    A centre absent from the reference is compared with the pooled reference median.
    """
    groups = (
        {"all": values}
        if centres is None
        else {"all": values} | {str(c): values[centres == c] for c in np.unique(centres)}
    )
    out = []
    for name, group in groups.items():
        ref = reference.get(name) or (reference.get("all") if name != "all" else None)
        known = group[~np.isnan(group)]
        if ref is None or len(known) < MIN_CENTRE_VALUES or np.median(known) <= 0:
            continue
        ratio = float(np.median(known) / ref["median"])
        if (
            unit_factor(ratio, se=UNIT_MAX_TOLERANCE / 2) is None
        ):  # nowhere near a power of ten: skip the bootstrap
            continue
        factor = unit_factor(ratio, se=math.hypot(ref["log10_se"], _batch_se(known)))
        if factor is not None:
            out.append({"centre": name, "ratio": ratio, "factor": factor, "n": len(known)})
    return out


def _batch_se(known: np.ndarray) -> float:
    if len(known) <= _SE_SUBSAMPLE:
        return log10_median_se(known)
    sample = np.random.default_rng(0).choice(known, _SE_SUBSAMPLE, replace=False)
    return log10_median_se(sample) * math.sqrt(_SE_SUBSAMPLE / len(known))


def _missingness(reference: dict[str, Any], n_missing: int, n: int) -> dict[str, Any]:
    ref_share = reference["n_missing"] / reference["n"] if reference["n"] else 0.0
    share = n_missing / n if n else 0.0
    return {
        "n": int(n),
        "reference_missing": ref_share,
        "batch_missing": share,
        "missing_change": share - ref_share,
        "missing_p_value": missing_test(reference["n_missing"], reference["n"], n_missing, n),
    }


def _bins(
    labels: Sequence[str], reference: np.ndarray, batch: np.ndarray
) -> dict[str, list[str] | list[float]]:
    def shares(counts: np.ndarray) -> list[float]:
        total = counts.sum()
        return [float(c / total) if total else 0.0 for c in counts]

    return {"labels": [*labels, "missing"], "reference": shares(reference), "batch": shares(batch)}


def _numeric_labels(edges: Sequence[float]) -> list[str]:
    if not edges:
        return ["all values"]
    inner = [f"({a:.3g}, {b:.3g}]" for a, b in itertools.pairwise(edges)]
    return [f"<= {edges[0]:.3g}", *inner, f"> {edges[-1]:.3g}"]
