"""How the CDS cards and the clinician page name features and show values, risks and horizons."""

from __future__ import annotations

import math
from typing import Any

from features.catalogue import Catalogue, FeatureSpec

DAYS_PER_MONTH = 365.25 / 12


def feature_label(spec: FeatureSpec, catalogue: Catalogue) -> str:
    """A readable name: the description's head, plus the window and its days for a window feature.

    Args:
        spec: the feature.
        catalogue: gives the window's days.

    Returns:
        e.g. ``Lactate dehydrogenase (preld window, days -14 to -3)``.
    """
    head = short_label(spec)
    if spec.window is None:
        return head
    window = catalogue.windows[spec.window]
    return (
        f"{head.removesuffix(f', {spec.window}')} ({spec.window} window, days {window.start} to {window.end})"
    )


def short_label(spec: FeatureSpec) -> str:
    """The description's head, and the window's name for a window feature.

    For example ``Lactate dehydrogenase, preld``.
    """
    head = spec.description.split(" [")[0].split(";")[0].split(" = ")[0].split(" (")[0].split(": ")[0].strip()
    return f"{head}, {spec.window}" if spec.window else head


def format_value(spec: FeatureSpec, value: Any) -> str:
    """A canonical value with its unit: ``410 U/L``, ``yes``, ``axi-cel``; "missing" for None."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "missing"
    if isinstance(value, str):
        return value
    if spec.type == "bool":
        return "yes" if value else "no"
    number = f"{int(value)}" if spec.type == "int" else f"{value:.4g}"
    return f"{number} {spec.unit}".strip()


def percent(probability: float) -> str:
    """``0.3412`` -> ``34.1%``."""
    return f"{100 * probability:.1f}%"


def horizon_label(days: int) -> str:
    """``365`` -> ``12 months``."""
    months = round(days / DAYS_PER_MONTH)
    return f"{months} month{'s' if months != 1 else ''}"


def hazard_factor(contribution: float) -> str:
    """A contribution on the log relative hazard as the factor it multiplies the hazard by: ``x1.26``."""
    return f"\u00d7{math.exp(contribution):.2f}"


def signed(number: float) -> str:
    """``+0.23`` / ``-0.10`` (a minus sign, not a hyphen)."""
    return f"{number:+.2f}".replace("-", "\u2212")
