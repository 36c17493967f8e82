"""Figures logged with every training run.

Calibration with CIs, decision curve, cumulative incidence of progression and of death without progression by
risk group, and the SHAP beeswarm (shap's ``shap.plots.beeswarm`` on the model's exact TreeSHAP values).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from models.encode import encode_features
from models.predictor import RelapsePredictor

if TYPE_CHECKING:
    from .fit import TrainResult

GROUP_COLOURS = {"low": "tab:green", "intermediate": "tab:orange", "high": "tab:red"}


def plot_calibration(table: pd.DataFrame, path: Path, title: str) -> Path:
    """Kaplan-Meier observed risk (95% CI) against mean predicted risk, by group of predicted risk."""
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], ls=":", c="grey")
    errors = np.vstack(
        [table["observed"] - table["observed_low"], table["observed_high"] - table["observed"]]
    )
    ax.errorbar(table["mean_predicted"], table["observed"], yerr=np.clip(errors, 0, None), fmt="o", capsize=3)
    ax.set(
        xlabel="mean predicted risk",
        ylabel="observed risk (Kaplan-Meier, 95% CI)",
        title=title,
        xlim=(0, 1),
        ylim=(0, 1),
    )
    return _save(fig, path)


def plot_decision_curve(net_benefit: pd.DataFrame, path: Path, title: str) -> Path:
    """Net benefit across thresholds for each strategy (the first one drawn bold)."""
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for i, (strategy, rows) in enumerate(net_benefit.groupby("strategy", sort=False)):
        style: dict[str, Any] = (
            {"ls": "--", "c": "k"}
            if strategy == "treat all"
            else {"ls": ":", "c": "grey"}
            if strategy == "treat none"
            else {}
        )
        ax.plot(rows["threshold"], rows["net_benefit"], label=strategy, lw=2.2 if i == 0 else 1, **style)
    ax.set(xlabel="threshold risk at 365 days", ylabel="net benefit", title=title, ylim=(-0.05, None))
    ax.legend(fontsize=6.5)
    return _save(fig, path)


def plot_cumulative_incidence(result: TrainResult, path: Path) -> Path:
    """Aalen-Johansen cumulative incidence in each out-of-fold risk group of the development set.

    Progression solid, death without progression dashed.
    """
    from sksurv.nonparametric import cumulative_incidence_competing_risks

    from .summaries import risk_group_labels

    data, config = result.data, result.config
    dev = data.targets[data.development]
    column = int(np.searchsorted(result.times, config.risk_groups.horizon_days))
    groups = risk_group_labels(result.oof.risks[result.winner][:, column], config)
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for level, colour in GROUP_COLOURS.items():
        members = groups == level
        cause = dev["cause"].to_numpy()[members]
        if members.sum() < 10 or not {1, 2} <= set(cause):
            continue
        times, incidence = cumulative_incidence_competing_risks(cause, dev["time"].to_numpy()[members])
        ax.step(times, incidence[1], where="post", c=colour, label=f"{level}: progression")
        ax.step(
            times, incidence[2], where="post", c=colour, ls="--", label=f"{level}: death without progression"
        )
    ax.set(
        xlabel=f"days after the {data.landmark} landmark",
        ylabel="cumulative incidence",
        xlim=(0, config.horizons_days[-1]),
        ylim=(0, 1),
        title=f"{data.landmark}: Aalen-Johansen by risk group (out-of-fold)",
    )
    ax.legend(fontsize=6.5)
    return _save(fig, path)


def plot_shap_beeswarm(
    predictor: RelapsePredictor, frame: pd.DataFrame, path: Path, title: str, max_display: int = 20
) -> Path:
    """SHAP summary (beeswarm) of the model's exact TreeSHAP contributions to its margin."""
    import shap  # slow import, only here

    explanation = predictor.explain_frame(frame)
    values = shap.Explanation(
        values=explanation.contributions,
        base_values=explanation.base_value,
        data=encode_features(frame, predictor.metadata.features),
        feature_names=list(explanation.feature_names),
    )
    plt.figure(figsize=(8, 7))
    shap.plots.beeswarm(values, max_display=max_display, show=False)
    fig = plt.gcf()
    fig.suptitle(title)
    return _save(fig, path)


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
