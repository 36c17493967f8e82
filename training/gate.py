"""The champion gate.

A new version becomes ``champion`` only if it discriminates better than the current one on the same held-out
patients, beyond bootstrap noise.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class GateDecision:
    """Whether the new version becomes champion, and why."""

    promote: bool
    reasons: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """The verdict and its reasons, in one line."""
        verdict = "promote" if self.promote else "keep current champion"
        return f"{verdict}: " + "; ".join(self.reasons)


@dataclass(frozen=True)
class Comparison:
    """Held-out Uno's C (365 days) of challenger and champion, and their paired-bootstrap difference."""

    challenger: float
    champion: float
    delta: float
    low: float
    high: float
    champion_version: str
    resamples: int


def champion_gate(comparison: Comparison | None, *, force: bool = False) -> GateDecision:
    """Decide whether the challenger replaces the champion.

    The challenger is promoted when the lower bound of the paired-bootstrap 95% CI of
    ``Uno's C(challenger) - Uno's C(champion)`` on the held-out patients is above zero. ``force``
    (``--promote``) overrides, and says so; with no champion the first version is promoted.

    Args:
        comparison: the held-out comparison, or None when there is no current champion.
        force: promote regardless.
    """
    if comparison is None:
        return GateDecision(True, ["no current champion"])
    text = (
        f"held-out Uno's C (365 d) {comparison.challenger:.4f} vs champion v{comparison.champion_version} "
        f"{comparison.champion:.4f}: difference {comparison.delta:+.4f} (paired bootstrap 95% CI "
        f"{comparison.low:+.4f} to {comparison.high:+.4f}, {comparison.resamples} resamples)"
    )
    if force:
        return GateDecision(True, [text, "forced by --promote"])
    better = comparison.low > 0
    return GateDecision(better, [text, "lower bound above zero" if better else "lower bound not above zero"])
