"""Performance tables from :class:`training.survival_metrics.SurvivalEvaluator` results.

Every metric with its bootstrap 95% CI, paired differences between candidates, and net-benefit curves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from .survival_metrics import SurvivalEvaluator, summarise

Evaluations = Mapping[str, Mapping[str, np.ndarray]]  # candidate -> metric -> (n_boot + 1,) values


def evaluate_all(
    evaluator: SurvivalEvaluator, risks: Mapping[str, np.ndarray]
) -> dict[str, dict[str, np.ndarray]]:
    """Every candidate's metrics on the evaluator's patients and shared resamples (paired)."""
    return {name: evaluator.evaluate(risk) for name, risk in risks.items()}


def metric_table(evaluations: Evaluations, metrics: Sequence[str]) -> pd.DataFrame:
    """One row per candidate: each metric's point estimate and ``_lo``/``_hi`` 95% CI."""
    rows = []
    for name, values in evaluations.items():
        row: dict[str, object] = {"candidate": name}
        for metric in metrics:
            point, low, high = summarise(values[metric]) if metric in values else (np.nan, np.nan, np.nan)
            row.update({metric: point, f"{metric}_lo": low, f"{metric}_hi": high})
        rows.append(row)
    return pd.DataFrame(rows)


def paired_delta(evaluations: Evaluations, a: str, b: str, metric: str) -> tuple[float, float, float]:
    """``a - b`` on ``metric`` with a paired bootstrap 95% CI (same resamples for both)."""
    return summarise(np.asarray(evaluations[a][metric]) - np.asarray(evaluations[b][metric]))


def delta_table(
    evaluations: Evaluations, pairs: Sequence[tuple[str, str]], metrics: Sequence[str]
) -> pd.DataFrame:
    """Paired differences for each ``(a, b)`` pair and metric."""
    rows = []
    for a, b in pairs:
        for metric in metrics:
            delta, low, high = paired_delta(evaluations, a, b, metric)
            rows.append(
                {
                    "comparison": f"{a} minus {b}",
                    "metric": metric,
                    "delta": delta,
                    "low": low,
                    "high": high,
                    "excludes_zero": bool(low > 0 or high < 0),
                }
            )
    return pd.DataFrame(rows)


def net_benefit_table(
    evaluations: Evaluations, references: Mapping[str, Mapping[str, np.ndarray]]
) -> pd.DataFrame:
    """Long table: threshold, strategy (each candidate, treat all, treat none, rules), net benefit with CI."""
    rows = []
    thresholds: set[float] = set()
    for strategy, values in {**evaluations, **references}.items():
        for key in sorted(k for k in values if k.startswith("nb_")):
            point, low, high = summarise(np.asarray(values[key]))
            threshold = float(key.removeprefix("nb_"))
            thresholds.add(threshold)
            rows.append(
                {
                    "threshold": threshold,
                    "strategy": strategy,
                    "net_benefit": point,
                    "low": low,
                    "high": high,
                }
            )
    rows += [
        {"threshold": t, "strategy": "treat none", "net_benefit": 0.0, "low": 0.0, "high": 0.0}
        for t in sorted(thresholds)
    ]
    return pd.DataFrame(rows)
