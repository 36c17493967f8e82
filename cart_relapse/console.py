"""Shared rich console and a clean exit for user-facing errors."""

from __future__ import annotations

import os
import sys
from typing import NoReturn

import typer
from rich.console import Console

PIPE_WIDTH = 200
"""Columns when output is not a terminal (a log file, ``make demo | tee``): rich would cut tables at 80."""


def make_console(*, stderr: bool = False) -> Console:
    """A console as wide as the terminal, or ``$COLUMNS`` / :data:`PIPE_WIDTH` in a pipe or file."""
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else int(os.environ.get("COLUMNS", PIPE_WIDTH))
    return Console(stderr=stderr, width=width)


console = make_console()
err_console = make_console(stderr=True)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``message`` in red on stderr and exit with ``code``."""
    err_console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)
