"""Geometry of the page's two inline SVG charts (the templates draw them; no JavaScript, no library).

* the risk curve: the risk at each horizon (3, 6, 12, 24 months) on an absolute 0-100% axis, joined
  by straight lines from 0 at the landmark, with the risk-group thresholds as dashed lines;
* the waterfall: from the base value (an average patient's log relative hazard) through the largest
  contributions (and the rest together) to this patient's margin; a bar to the right raises the risk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..display import signed

CURVE_WIDTH, CURVE_HEIGHT = 520, 260
CURVE_LEFT, CURVE_RIGHT, CURVE_TOP, CURVE_BOTTOM = 48, 16, 16, 40
ROW_HEIGHT, LABEL_WIDTH, BAR_WIDTH, VALUE_WIDTH = 26, 400, 260, 110


@dataclass(frozen=True)
class Point:
    """A point of a chart, in SVG coordinates, with its label."""

    x: float
    y: float
    label: str


@dataclass(frozen=True)
class Curve:
    """The risk curve's geometry: the points at the horizons, the polyline, ticks and thresholds."""

    width: int
    height: int
    points: list[Point]  # the horizons (the line starts at the origin)
    path: str  # SVG polyline points
    x_ticks: list[Point]
    y_ticks: list[Point]
    thresholds: list[Point]  # y of each threshold, x of the axis end
    plot: tuple[float, float, float, float]  # left, top, right, bottom


@dataclass(frozen=True)
class Bar:
    """One waterfall bar (base, a contribution, or the total), in SVG coordinates."""

    y: float
    x: float
    width: float
    label: str
    amount: str
    kind: str  # "base", "up", "down" or "total"


@dataclass(frozen=True)
class Waterfall:
    """The waterfall's geometry: its bars and where zero is."""

    width: int
    height: int
    bars: list[Bar]
    zero_x: float
    row_height: int = ROW_HEIGHT
    label_width: int = LABEL_WIDTH
    bar_width: int = BAR_WIDTH


def risk_curve(risks: Sequence[tuple[int, float, str]], thresholds: Sequence[tuple[float, str]]) -> Curve:
    """The curve of (days, risk, label) points, with (risk, label) threshold lines.

    Args:
        risks: per horizon, days after the landmark, the risk (0-1) and its label (``34.1%``).
        thresholds: the risk-group cut-offs (0-1) and their labels.
    """
    left, top = CURVE_LEFT, CURVE_TOP
    right, bottom = CURVE_WIDTH - CURVE_RIGHT, CURVE_HEIGHT - CURVE_BOTTOM
    last = max(days for days, _, _ in risks)

    def x(days: float) -> float:
        return round(left + (right - left) * days / last, 1)

    def y(risk: float) -> float:
        return round(bottom - (bottom - top) * risk, 1)

    points = [Point(x(days), y(risk), label) for days, risk, label in risks]
    path = " ".join(f"{p.x},{p.y}" for p in [Point(x(0), y(0), ""), *points])
    x_ticks = [Point(x(0), bottom, "0")] + [
        Point(x(days), bottom, f"{round(days / 30.4375)}") for days, _, _ in risks
    ]
    y_ticks = [Point(left, y(r / 100), f"{r}%") for r in (0, 25, 50, 75, 100)]
    lines = [Point(right, y(risk), label) for risk, label in thresholds]
    return Curve(CURVE_WIDTH, CURVE_HEIGHT, points, path, x_ticks, y_ticks, lines, (left, top, right, bottom))


def waterfall(base: float, steps: Sequence[tuple[str, float, str]], total: float) -> Waterfall:
    """Bars from ``base`` through each (label, contribution, amount text) step to ``total``.

    Args:
        base: the base value (log relative hazard of an average patient).
        steps: the contributions shown, in order.
        total: this patient's margin (``base`` plus every contribution).
    """
    running, spans = base, []
    for _, contribution, _ in steps:
        spans.append((running, running + contribution))
        running += contribution
    ends = [base, total, 0.0] + [v for span in spans for v in span]
    low, high = min(ends), max(ends)
    pad = (high - low) * 0.05 or 0.5
    low, high = low - pad, high + pad

    def x(value: float) -> float:
        return round(LABEL_WIDTH + BAR_WIDTH * (value - low) / (high - low), 1)

    bars = [
        Bar(
            ROW_HEIGHT * 0.2,
            x(min(0.0, base)),
            max(abs(x(base) - x(0.0)), 1.0),
            "Average patient (base value)",
            signed(base),
            "base",
        )
    ]
    for i, ((label, contribution, amount), (start, end)) in enumerate(
        zip(steps, spans, strict=True), start=1
    ):
        bars.append(
            Bar(
                ROW_HEIGHT * (i + 0.2),
                x(min(start, end)),
                max(abs(x(end) - x(start)), 1.0),
                label,
                amount,
                "up" if contribution > 0 else "down",
            )
        )
    bars.append(
        Bar(
            ROW_HEIGHT * (len(steps) + 1.2),
            x(min(0.0, total)),
            max(abs(x(total) - x(0.0)), 1.0),
            "This patient (log relative hazard)",
            signed(total),
            "total",
        )
    )
    return Waterfall(
        LABEL_WIDTH + BAR_WIDTH + VALUE_WIDTH, int(ROW_HEIGHT * (len(steps) + 2.4)), bars, x(0.0)
    )
