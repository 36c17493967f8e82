"""training/plots.py: every figure is written, with the axes, labels and data it is meant to show."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from training import plots

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def figures(monkeypatch) -> list[Figure]:
    """Every figure the module saves (kept for inspection after it is written and closed)."""
    saved: list[Figure] = []
    original = plots._save

    def spy(fig, path):
        saved.append(fig)
        return original(fig, path)

    monkeypatch.setattr(plots, "_save", spy)
    return saved


def test_calibration_plots_observed_against_predicted_with_intervals(tmp_path, figures):
    table = pd.DataFrame(
        {
            "mean_predicted": [0.1, 0.4, 0.8],
            "observed": [0.12, 0.35, 0.7],
            "observed_low": [0.05, 0.3, 0.72],  # a CI not containing its point must not give a negative bar
            "observed_high": [0.2, 0.45, 0.8],
        }
    )
    path = plots.plot_calibration(table, tmp_path / "sub" / "calibration.png", "preinfusion calibration")
    assert path == tmp_path / "sub" / "calibration.png" and path.read_bytes().startswith(PNG)
    ax = figures[0].axes[0]
    assert (
        ax.get_xlabel() == "mean predicted risk" and ax.get_ylabel() == "observed risk (Kaplan-Meier, 95% CI)"
    )
    assert ax.get_title() == "preinfusion calibration" and ax.get_xlim() == (0, 1) and ax.get_ylim() == (0, 1)
    points = ax.lines[1]  # after the diagonal
    np.testing.assert_array_equal(points.get_xdata(), table["mean_predicted"])
    np.testing.assert_array_equal(points.get_ydata(), table["observed"])


def test_decision_curve_draws_each_strategy_with_the_first_bold(tmp_path, figures):
    thresholds = [0.1, 0.3, 0.5]
    net_benefit = pd.DataFrame(
        [
            {"threshold": t, "strategy": s, "net_benefit": nb}
            for s, values in (
                ("xgboost", [0.3, 0.2, 0.1]),
                ("treat all", [0.25, 0.05, -0.2]),
                ("treat none", [0.0, 0.0, 0.0]),
            )
            for t, nb in zip(thresholds, values, strict=True)
        ]
    )
    path = plots.plot_decision_curve(net_benefit, tmp_path / "dca.png", "decision curve")
    assert path.read_bytes().startswith(PNG)
    ax = figures[0].axes[0]
    assert ax.get_xlabel() == "threshold risk at 365 days" and ax.get_ylabel() == "net benefit"
    assert [line.get_label() for line in ax.lines] == ["xgboost", "treat all", "treat none"]
    assert ax.lines[0].get_linewidth() > ax.lines[1].get_linewidth()
    assert ax.lines[1].get_linestyle() == "--" and ax.lines[2].get_linestyle() == ":"
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), [0.3, 0.2, 0.1])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["xgboost", "treat all", "treat none"]


@pytest.mark.slow
def test_cumulative_incidence_by_risk_group(tiny_result, tmp_path, figures):
    path = plots.plot_cumulative_incidence(tiny_result, tmp_path / "cif.png")
    assert path.read_bytes().startswith(PNG)
    ax = figures[0].axes[0]
    assert (
        ax.get_xlabel() == "days after the preinfusion landmark" and ax.get_ylabel() == "cumulative incidence"
    )
    assert ax.get_xlim() == (0, tiny_result.config.horizons_days[-1])
    labels = [line.get_label() for line in ax.lines]
    assert labels and len(labels) % 2 == 0
    assert {label.split(":")[0] for label in labels} <= {"low", "intermediate", "high"}
    for line in ax.lines:
        incidence = np.asarray(line.get_ydata())
        assert (incidence >= 0).all() and (incidence <= 1).all() and (np.diff(incidence) >= -1e-12).all()


@pytest.mark.slow
def test_shap_beeswarm_shows_the_model_features(tiny_result, tmp_path, figures):
    frame = tiny_result.data.frame.iloc[:150]
    path = plots.plot_shap_beeswarm(
        tiny_result.predictor, frame, tmp_path / "shap.png", "SHAP", max_display=8
    )
    assert path.read_bytes().startswith(PNG)
    fig = figures[0]
    assert fig._suptitle.get_text() == "SHAP"
    ax = fig.axes[0]
    assert "SHAP value" in ax.get_xlabel()
    shown = [t.get_text() for t in ax.get_yticklabels()]
    names = set(tiny_result.predictor.feature_names)
    assert len(shown) == 8 and sum(s in names for s in shown) == 7  # and "Sum of N other features"
