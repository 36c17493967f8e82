"""Is the registry big enough for this many candidate parameters?

Riley et al. (BMJ 2020;368:m441) minimum sample size for a time-to-event prediction model, checked before
training.

Criteria (Riley et al. 2019/2020, time-to-event outcome, exponential null model):
  (i)   expected uniform shrinkage >= 0.9:        n >= p / ((S - 1) ln(1 - R2cs / S)), S = 0.9;
  (ii)  optimism in Nagelkerke R2 <= 0.05:        the same with S = R2cs / (R2cs + 0.05 max R2cs);
  (iii) the overall risk by the headline horizon estimated within +/- 0.05 (95% CI).
``max R2cs = 1 - exp(2 lnL0 / n)`` with ``lnL0 = E ln(E / T) - E`` (E events, T person-time in years, the
unit of Riley et al.'s worked examples and of ``pmsampsize``). With no previous model to anticipate
R2cs, Riley et al. suggest a conservative 15% of its maximum.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from features.catalogue import FeatureSpec

SHRINKAGE = 0.9
OPTIMISM = 0.05
MARGIN = 0.05
ANTICIPATED_SHARE_OF_MAX_R2 = 0.15
DAYS_PER_YEAR = 365.25


@dataclass(frozen=True)
class SampleSizeCheck:
    """The minimum sample size by each criterion beside what the registry has."""

    parameters: int
    patients: int
    events: int
    max_r2_cs: float
    anticipated_r2_cs: float
    required_shrinkage: int
    required_optimism: int
    required_precision: int

    @property
    def required(self) -> int:
        """The minimum sample size: the largest of the three criteria."""
        return max(self.required_shrinkage, self.required_optimism, self.required_precision)

    @property
    def required_events(self) -> int:
        """The events expected in the minimum sample, at the registry's event rate."""
        return int(np.ceil(self.required * self.events / self.patients))

    @property
    def adequate(self) -> bool:
        """Whether the development set reaches the minimum sample size."""
        return self.patients >= self.required

    def summary(self) -> str:
        """The check in one sentence, for the training log and the model card."""
        verdict = "adequate" if self.adequate else "TOO SMALL"
        return (
            f"Riley et al. 2020: {self.parameters} candidate parameters need at least {self.required:,} "
            "patients "
            f"(~{self.required_events:,} events); the development set has {self.patients:,} patients and "
            f"{self.events:,} events: {verdict}"
        )


def candidate_parameters(specs: Sequence[FeatureSpec]) -> int:
    """Predictor parameters a model may estimate: 1 per number or flag, ``levels - 1`` per category."""
    return sum(max(len(s.levels or ()) - 1, 1) if s.type == "category" else 1 for s in specs)


def check_sample_size(
    *, parameters: int, time: np.ndarray, event: np.ndarray, horizon: float
) -> SampleSizeCheck:
    """Riley et al.'s criteria (i)-(iii) for the development data.

    Args:
        parameters: candidate predictor parameters (see :func:`candidate_parameters`).
        time: follow-up times of the development patients.
        event: their event indicators.
        horizon: the headline horizon (days) for the precision of the overall risk.

    Returns:
        The minimum sample size by each criterion and what the data have.
    """
    n, events, person_time = len(time), int(np.sum(event)), float(np.sum(time)) / DAYS_PER_YEAR
    log_l0 = events * np.log(events / person_time) - events
    max_r2 = 1 - np.exp(2 * log_l0 / n)
    r2 = ANTICIPATED_SHARE_OF_MAX_R2 * max_r2
    optimism_shrinkage = r2 / (r2 + OPTIMISM * max_r2)
    return SampleSizeCheck(
        parameters=parameters,
        patients=n,
        events=events,
        max_r2_cs=float(max_r2),
        anticipated_r2_cs=float(r2),
        required_shrinkage=_by_shrinkage(parameters, r2, SHRINKAGE),
        required_optimism=_by_shrinkage(parameters, r2, optimism_shrinkage),
        required_precision=_by_precision(events / person_time, person_time / n, horizon / DAYS_PER_YEAR),
    )


def _by_shrinkage(p: int, r2: float, shrinkage: float) -> int:
    return int(np.ceil(p / ((shrinkage - 1) * np.log(1 - r2 / shrinkage))))


def _by_precision(rate: float, mean_follow_up: float, horizon: float) -> int:
    """Smallest n whose 95% CI of the exponential risk by ``horizon`` is within +/- MARGIN."""
    risk = -np.expm1(-rate * horizon)
    for n in np.unique(np.geomspace(10, 1e7, 4000).astype(int)):
        half = 1.96 * np.sqrt(rate / (n * mean_follow_up))
        upper, lower = -np.expm1(-(rate + half) * horizon), -np.expm1(-max(rate - half, 0.0) * horizon)
        if upper - risk <= MARGIN and risk - lower <= MARGIN:
            return int(n)
    return int(1e7)
