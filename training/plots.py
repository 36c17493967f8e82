"""Figures logged with every training run: ROC, calibration, decision curve, SHAP beeswarm."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.metrics import roc_curve  # noqa: E402

from models.encode import encode_features  # noqa: E402
from models.predictor import RelapsePredictor  # noqa: E402

from .metrics import DECISION_THRESHOLDS, net_benefit, net_benefit_treat_all  # noqa: E402


def plot_roc(y_true: np.ndarray, probabilities: pd.DataFrame, path: Path, title: str) -> Path:
    """ROC curves of several candidates on the same patients."""
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for name in probabilities.columns:
        fpr, tpr, _ = roc_curve(y_true, probabilities[name])
        ax.plot(fpr, tpr, label=name, lw=2 if name == probabilities.columns[0] else 1)
    ax.plot([0, 1], [0, 1], ls=":", c="grey")
    ax.set(xlabel="1 - specificity", ylabel="sensitivity", title=title)
    ax.legend(fontsize=7, loc="lower right")
    return _save(fig, path)


def plot_calibration(y_true: np.ndarray, y_prob: np.ndarray, path: Path, title: str, bins: int = 10) -> Path:
    """Observed event rate against mean predicted probability, by decile of prediction."""
    order = np.argsort(y_prob)
    groups = np.array_split(order, bins)
    predicted = [y_prob[g].mean() for g in groups]
    observed = [y_true[g].mean() for g in groups]
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], ls=":", c="grey")
    ax.plot(predicted, observed, marker="o")
    ax.set(xlabel="predicted probability", ylabel="observed event rate", title=title, xlim=(0, 1), ylim=(0, 1))
    return _save(fig, path)


def plot_decision_curve(y_true: np.ndarray, probabilities: pd.DataFrame, path: Path, title: str) -> Path:
    """Net benefit across thresholds 0.2-0.6 for each candidate, treat-all and treat-none."""
    thresholds = np.array(DECISION_THRESHOLDS)
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for name in probabilities.columns:
        ax.plot(thresholds, [net_benefit(y_true, probabilities[name].to_numpy(), t) for t in thresholds], label=name)
    ax.plot(thresholds, [net_benefit_treat_all(y_true, t) for t in thresholds], ls="--", c="k", label="treat all")
    ax.axhline(0, ls=":", c="grey", label="treat none")
    ax.set(xlabel="threshold probability", ylabel="net benefit", title=title)
    ax.legend(fontsize=7)
    return _save(fig, path)


def plot_shap_beeswarm(predictor: RelapsePredictor, frame: pd.DataFrame, path: Path, title: str, max_display: int = 20) -> Path:
    """SHAP summary (beeswarm) from the model's exact TreeSHAP contributions."""
    import shap  # slow import, only here

    explanation = predictor.explain_frame(frame)
    values = encode_features(frame, predictor.metadata.features)
    shap.summary_plot(explanation.contributions, values, feature_names=list(explanation.feature_names),
                      max_display=max_display, show=False, plot_size=(8, 7))
    fig = plt.gcf()
    fig.suptitle(title)
    return _save(fig, path)


def _save(fig: plt.Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
