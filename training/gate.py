"""The champion gate: a new version becomes ``champion`` only if it beats the current one."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class GateDecision:
    promote: bool
    reasons: list[str] = field(default_factory=list)

    def summary(self) -> str:
        verdict = "promote" if self.promote else "keep current champion"
        return f"{verdict}: " + "; ".join(self.reasons)


def champion_gate(challenger: dict[str, float], champion: dict[str, float] | None, *, force: bool = False) -> GateDecision:
    """Decide whether the challenger replaces the champion, on the same evaluation data.

    The challenger must have a higher AUROC and a calibration slope no further from 1 than the
    champion's. ``force`` (``--promote``) overrides, and says so.

    Args:
        challenger: ``auroc`` and ``cal_slope`` of the new version on the evaluation data.
        champion: the same for the current champion on the same data, or None if there is none.
        force: promote regardless.
    """
    if force:
        return GateDecision(True, ["forced by --promote"])
    if champion is None:
        return GateDecision(True, ["no current champion"])
    reasons = []
    better_auroc = challenger["auroc"] > champion["auroc"]
    reasons.append(f"AUROC {challenger['auroc']:.4f} vs champion {champion['auroc']:.4f} ({'higher' if better_auroc else 'not higher'})")
    new_gap, old_gap = abs(challenger["cal_slope"] - 1), abs(champion["cal_slope"] - 1)
    calibrated = new_gap <= old_gap
    reasons.append(
        f"calibration slope {challenger['cal_slope']:.3f} vs champion {champion['cal_slope']:.3f} "
        f"({'not worse' if calibrated else 'worse'})"
    )
    return GateDecision(better_auroc and calibrated, reasons)
