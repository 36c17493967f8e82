"""Calibration anchors: published numbers recomputed from a generated registry.

``compute_anchors(tables)`` reads only the raw tables (never the latents); the measures live in
``anchor_outcomes`` (PFS, hazard ratios, NRM, attrition, baseline markers, centre spread) and
``anchor_day30`` (the day-30 views: PET vs ctDNA, outcome by Deauville, ctDNA within DS4, CAR-T
expansion).

Run ``python -m synth.anchors --patients 30000 --seed 1`` to print the table, ``--format markdown``
for a table the docs can include verbatim.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .anchor_day30 import DAY30_ANCHORS
from .anchor_inputs import survival_frame
from .anchor_outcomes import CENTRE_ANCHORS, OUTCOME_ANCHORS, Measurer

FORMATS = ("rich", "markdown")


@dataclass(frozen=True)
class Anchor:
    """One published number and the range the generator must land in."""

    name: str
    published: str
    low: float
    high: float
    measure: Measurer


ANCHORS: tuple[Anchor, ...] = tuple(Anchor(*a) for a in (*OUTCOME_ANCHORS, *DAY30_ANCHORS, *CENTRE_ANCHORS))


def compute_anchors(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Recompute every anchor from the raw registry tables.

    Args:
        tables: output of ``generate_registry`` (clean).

    Returns:
        One row per anchor: ``anchor``, ``published``, ``target_low``, ``target_high``,
        ``generated``, ``ci_low``, ``ci_high`` (Wald 95% CI for hazard ratios) and ``ok``.
    """
    surv = survival_frame(tables)
    rows = []
    for a in ANCHORS:
        value, lo, hi = a.measure(tables, surv)
        rows.append(
            {
                "anchor": a.name,
                "published": a.published,
                "target_low": a.low,
                "target_high": a.high,
                "generated": value,
                "ci_low": lo,
                "ci_high": hi,
                "ok": bool(a.low <= value <= a.high),
            }
        )
    return pd.DataFrame(rows)


def anchor_rows(result: pd.DataFrame) -> list[list[str]]:
    """The anchor table as text cells: anchor, published, target, generated, 95% CI, ok.

    Args:
        result: output of ``compute_anchors``.

    Returns:
        One list of cells per anchor.
    """
    rows = []
    for r in result.to_dict("records"):
        ci = f"{r['ci_low']:.2f}-{r['ci_high']:.2f}" if np.isfinite(r["ci_low"]) else ""
        rows.append(
            [
                r["anchor"],
                r["published"],
                f"{r['target_low']:g}-{r['target_high']:g}",
                f"{r['generated']:.3f}",
                ci,
                "yes" if r["ok"] else "NO",
            ]
        )
    return rows


def format_markdown(result: pd.DataFrame, title: str) -> str:
    """The anchor table as a Markdown table under a bold title line.

    Args:
        result: output of ``compute_anchors``.
        title: text of the title line.

    Returns:
        Markdown text.
    """
    header = ["anchor", "published", "target", "generated", "95% CI", "ok"]
    lines = [f"**{title}**", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "/") for cell in row) + " |" for row in anchor_rows(result)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Generate a registry and print its anchor table."""
    from .registry import generate_registry

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=30_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--format", choices=FORMATS, default="rich")
    args = parser.parse_args(argv)
    result = compute_anchors(generate_registry(args.patients, args.seed))
    title = f"Anchors: {args.patients:,} patients, seed {args.seed}"
    if args.format == "markdown":
        print(format_markdown(result, title))
    else:
        _print_rich(result, title)


def _print_rich(result: pd.DataFrame, title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for col in ("anchor", "published", "target", "generated", "95% CI", "ok"):
        table.add_column(col)
    for row in anchor_rows(result):
        table.add_row(*row[:-1], "yes" if row[-1] == "yes" else "[red]NO[/red]")
    Console(width=170).print(table)


if __name__ == "__main__":
    main()
