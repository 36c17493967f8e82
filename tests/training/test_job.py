"""training/job.py: landmark choice, the MLflow UI command and the console tables of a training run.

The whole job (train, log, register, promote) is tested end to end in test_registry.py and test_failures.py.
"""

from __future__ import annotations

import sys

import pytest
from rich.console import Console

from features.catalogue import load_catalogue
from training.job import COMPARISON_COLUMNS, ablation_table, comparison_table, landmarks_for, ui_command


def test_all_means_every_catalogue_landmark():
    assert landmarks_for("all") == list(load_catalogue().landmarks) == ["preinfusion", "day30"]
    assert landmarks_for("day30") == ["day30"]


def test_the_ui_command_runs_without_the_venv_and_hides_credentials(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "postgresql+psycopg://team:s3cret@db.internal/mlflow")
    command = ui_command()
    assert command.startswith(f"{sys.executable} -m mlflow ui --backend-store-uri ")
    assert "s3cret" not in command and "postgresql+psycopg://***@db.internal/mlflow" in command
    assert ui_command("sqlite:////tmp/x.db").endswith("--backend-store-uri sqlite:////tmp/x.db --port 5000")


def _text(table) -> str:
    console = Console(width=400, record=True, color_system=None)
    console.print(table)
    return console.export_text()


@pytest.mark.slow
def test_the_comparison_table_ranks_candidates_and_stars_the_winner(tiny_result):
    table = comparison_table(tiny_result)
    assert [c.header for c in table.columns] == [
        "candidate",
        *COMPARISON_COLUMNS.values(),
        "held-out Uno C 365",
    ]
    names = list(table.columns[0].cells)
    ranked = tiny_result.cv.sort_values("uno_c_365", ascending=False)["candidate"].tolist()
    assert [n.removesuffix(" *") for n in names] == ranked
    assert [n for n in names if n.endswith(" *")] == [f"{tiny_result.winner} *"]
    counts = tiny_result.data.counts
    assert f"{counts.eligible:,} eligible, {counts.events:,} events" in str(table.title)
    row = tiny_result.cv.set_index("candidate").loc[ranked[0]]
    cell = next(iter(table.columns[1].cells))
    assert cell == f"{row['uno_c_365']:.3f} [{row['uno_c_365_lo']:.3f}, {row['uno_c_365_hi']:.3f}]"
    assert ranked[0] in _text(table)


@pytest.mark.slow
def test_the_ablation_table_has_one_row_per_modality_step(tiny_result):
    table = ablation_table(tiny_result)
    ablation = tiny_result.summaries.ablation
    assert list(table.columns[0].cells) == ablation["modalities"].tolist()
    assert next(iter(table.columns[2].cells)) == ""  # the first step adds to nothing
    assert list(table.columns[3].cells) == [f"{v:.3f}" for v in ablation["ibs"]]
