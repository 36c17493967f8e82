"""Do the model's SHAP contributions point the way the literature says (evidence.md section 1)?"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from models.explain import Explanation

# check name -> (how to read the biomarker value, features whose contributions carry it);
# all "higher = riskier".
DIRECTION_CHECKS: dict[str, tuple[str, tuple[str, ...]]] = {
    "higher LDH": ("ldh_uln_ratio", ("ldh_apheresis", "ldh_preld", "ldh_uln_ratio", "ldh_day30")),
    "higher ECOG": ("ecog_preld", ("ecog_apheresis", "ecog_preld")),
    "higher baseline TMTV": ("tmtv_preld", ("tmtv_preld", "tlg_preld")),
    "tisa-cel (vs axi-cel)": ("product=tisa-cel", ("product", "costim_cd28")),
    "higher day-30 Deauville": ("deauville_day30", ("deauville_day30",)),
    "detectable day-28 ctDNA": ("ctdna_detected_day30", ("ctdna_day30", "ctdna_detected_day30")),
}


def shap_direction_checks(
    frame: pd.DataFrame, explanation: Explanation, *, min_rows: int = 30
) -> pd.DataFrame:
    """Spearman correlation between each biomarker and the summed contributions of its features.

    Returns:
        One row per applicable check: ``check``, ``n``, ``spearman``, ``ok`` (correlation > 0) and a
        ``note`` (e.g. the model gives the biomarker no weight at all).
    """
    index = {name: j for j, name in enumerate(explanation.feature_names)}
    rows = []
    for check, (value_spec, features) in DIRECTION_CHECKS.items():
        columns = [index[f] for f in features if f in index]
        value = _value(frame, value_spec)
        if not columns or value is None:
            continue
        contribution = explanation.contributions[:, columns].sum(axis=1)
        known = ~np.isnan(value)
        if known.sum() < min_rows or np.nanstd(value) == 0:
            continue
        if np.std(contribution[known]) == 0:
            rows.append(
                {
                    "check": check,
                    "n": int(known.sum()),
                    "spearman": np.nan,
                    "ok": False,
                    "note": "not used by the model",
                }
            )
            continue
        rho = float(spearmanr(value[known], contribution[known]).statistic)
        rows.append({"check": check, "n": int(known.sum()), "spearman": rho, "ok": bool(rho > 0), "note": ""})
    return pd.DataFrame(rows, columns=["check", "n", "spearman", "ok", "note"])


def _value(frame: pd.DataFrame, spec: str) -> np.ndarray | None:
    if "=" in spec:
        column, level = spec.split("=")
        if column not in frame:
            return None
        values = frame[column]
        baseline = {"product": "axi-cel"}[column]
        return np.where(values == level, 1.0, np.where(values == baseline, 0.0, np.nan))
    if spec not in frame:
        return None
    return pd.to_numeric(frame[spec], errors="coerce").to_numpy(dtype=float)
