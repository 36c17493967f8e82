"""User-facing output: tables keep their width in a pipe or log file; the demo's last hint runs as printed."""

from __future__ import annotations

import io
import re
import shlex
import sys
from pathlib import Path

from rich.table import Table

from cart_relapse.console import PIPE_WIDTH, make_console
from training.job import ui_command


def test_tables_are_not_cut_at_80_columns_when_output_is_not_a_terminal(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stdout", stream)
    monkeypatch.delenv("COLUMNS", raising=False)
    console = make_console()
    table = Table("file", "read", "accepted", "quarantined", "top quarantine reasons")
    table.add_row(
        "clinical.csv", "133,209", "132,681", "528", "unknown biomarker (biomarker): 83; duplicate (row): 83"
    )
    console.print(table)
    assert console.width == PIPE_WIDTH
    assert (
        "…" not in stream.getvalue()
        and "quarantined" in stream.getvalue()
        and "duplicate (row): 83" in stream.getvalue()
    )


def test_the_mlflow_ui_hint_runs_without_activating_the_virtual_environment():
    command = shlex.split(ui_command("sqlite:///data/mlflow.db"))
    assert command[0] == sys.executable and command[1:4] == ["-m", "mlflow", "ui"]
    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    assert re.search(r"^ui: .*\n\t\$\(VENV\)/bin/mlflow ui ", makefile, re.MULTILINE)
