"""Censoring-aware performance of risk predictions, with bootstrap confidence intervals.

The estimators are scikit-survival's, with inverse probability of censoring weights (IPCW) from the
Kaplan-Meier estimate of the censoring distribution on the evaluation patients:

* Uno's C truncated at tau (``concordance_index_ipcw``; Uno et al. 2011);
* cumulative/dynamic time-dependent AUC at each horizon (``cumulative_dynamic_auc``; Uno 2007);
* the Brier score at each horizon and its integral over a grid of days (``brier_score``,
  ``integrated_brier_score``; Graf et al. 1999);
* net benefit at the headline horizon (Vickers and Elkin 2006), with IPCW event rates.

Why this module also writes them as weighted sums: a bootstrap percentile interval needs each metric
on hundreds of resamples, for a dozen candidates, in cross-validation, on the held-out set and in
leave-one-centre-out; calling scikit-survival per resample would take minutes per landmark. Every
estimator above is a sum over patients (or pairs of patients), so a resample is the same sum with
each patient counted as often as it was drawn. Row 0 of every result uses weight 1 for everyone:
that is the point estimate, and ``tests/training/test_survival_metrics.py`` checks it equals
scikit-survival's to 1e-9. The censoring distribution is estimated once on the evaluation patients
and held fixed across resamples (a standard simplification; the resampled patients change, their
censoring weights do not).

Ties. Registries record progression at scheduled assessments and last contact at the same visits, so
many events and censorings share a day. A patient censored on the day of an event was still at risk
at that event (the Kaplan-Meier convention), so censoring times are moved :data:`CENSORING_AFTER_EVENTS`
of a day later before anything is estimated. Without it, scikit-survival's weights ``1/G(T)`` count
same-day censorings before the event and the IPCW event rate overshoots Kaplan-Meier (by 0.02 at 365
days on the demo registry); with it the IPCW event rate equals Kaplan-Meier's (tested).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

TIED_TOL = 1e-8  # as scikit-survival: risk estimates closer than this are ties (half credit)
CENSORING_AFTER_EVENTS = 0.1
"""Days added to censoring times: a censoring on an event's day comes after the event."""


@dataclass(frozen=True)
class EvaluationSpec:
    """What to compute: the time grid every risk matrix is given on, and the summary points."""

    times: np.ndarray  # increasing days; the columns of every risk matrix
    horizons: tuple[int, ...]
    taus: tuple[int, ...]
    headline: int
    thresholds: tuple[float, ...]
    brier_grid: np.ndarray  # days over which the Brier score is integrated (a subset of ``times``)


class SurvivalEvaluator:
    """Metrics of many risk predictions on one set of patients, sharing bootstrap resamples.

    Args:
        time: follow-up times from the landmark.
        event: event indicators.
        spec: the time grid and summary points.
        n_boot: bootstrap resamples (0 for point estimates only).
        seed: seeds the resamples (the same seed gives the same resamples, so results are paired).
    """

    def __init__(
        self, time: np.ndarray, event: np.ndarray, spec: EvaluationSpec, *, n_boot: int, seed: int
    ) -> None:
        self.event = np.asarray(event, dtype=bool)
        self.time = order_censoring_after_events(np.asarray(time, dtype=np.float64), self.event)
        self.spec = spec
        self.n = len(self.time)
        self.weights = bootstrap_weights(self.n, n_boot, seed)
        self.censoring = _censoring_survival(self.time, self.event)
        # 1 / G(T_i) and 1 / G(t), as scikit-survival's predict_ipcw / brier_score (0 where G is 0)
        self.inv_g_obs = _inverse(self.censoring(self.time))
        self.inv_g_times = _inverse(self.censoring(spec.times))
        self._pairs = {tau: self._comparable(tau) for tau in spec.taus}
        self._uno_denominators = {tau: self._uno_pairs(tau) for tau in spec.taus}

    def evaluate(self, risk: np.ndarray) -> dict[str, np.ndarray]:
        """Every metric of one risk matrix, on the point sample (index 0) and each resample.

        Args:
            risk: (n, len(spec.times)) absolute risk of the event by each time; a column of NaN
                means the model does not predict at that time (its metrics are NaN).

        Returns:
            Metric name -> array of shape (n_boot + 1,).
        """
        out: dict[str, np.ndarray] = {}
        for tau in self.spec.taus:
            out[f"uno_c_{tau}"] = self._uno_c(self._score_for(risk, tau), tau)
        for horizon in self.spec.horizons:
            column = risk[:, self._column(horizon)]
            out[f"auc_{horizon}"] = self._auc(column, horizon)
            out[f"brier_{horizon}"] = self._brier(column, horizon)
        out["ibs"] = self._integrated_brier(risk)
        out.update(self._calibration_in_the_large(risk[:, self._column(self.spec.headline)]))
        out.update(self._net_benefit(risk[:, self._column(self.spec.headline)]))
        return out

    def net_benefit_of_rule(self, treat: np.ndarray) -> dict[str, np.ndarray]:
        """Net benefit of a fixed yes/no decision rule (e.g. Deauville/ctDNA) at every threshold."""
        return self._net_benefit_from_treat(
            np.repeat(np.asarray(treat, dtype=bool)[:, None], len(self.spec.thresholds), 1)
        )

    def treat_all(self) -> dict[str, np.ndarray]:
        """Net benefit of treating everyone, at every threshold."""
        return self.net_benefit_of_rule(np.ones(self.n, dtype=bool))

    # ------------------------------------------------------------------ Uno's C
    def _uno_pairs(self, tau: int) -> NDArray[np.float64]:
        """Per resample, the weighted number of comparable pairs (the denominator)."""
        cases, comparable = self._pairs[tau]
        a = np.square(self.inv_g_obs[cases])
        pairs: NDArray[np.float64] = ((self.weights[:, cases] * a) * (comparable @ self.weights.T).T).sum(
            axis=1
        )
        return pairs

    def _comparable(self, tau: int) -> tuple[np.ndarray, np.ndarray]:
        """Events before ``tau`` and, per event, the patients it is comparable with.

        Comparable: a later time, or the same time but censored.
        """
        cases = np.flatnonzero(self.event & (self.time < tau))
        ti = self.time[cases][:, None]
        comparable = (self.time[None, :] > ti) | ((self.time[None, :] == ti) & ~self.event[None, :])
        return cases, comparable.astype(np.float64)

    def _uno_c(self, score: np.ndarray, tau: int) -> NDArray[np.float64]:
        if np.isnan(score).any():
            return np.full(len(self.weights), np.nan)
        cases, comparable = self._pairs[tau]
        si, sj = score[cases][:, None], score[None, :]
        credit = np.where(np.abs(sj - si) <= TIED_TOL, 0.5, (sj < si).astype(np.float64)) * comparable
        a = np.square(self.inv_g_obs[cases])
        numerator: NDArray[np.float64] = ((self.weights[:, cases] * a) * (credit @ self.weights.T).T).sum(
            axis=1
        )
        return numerator / self._uno_denominators[tau]

    def _score_for(self, risk: np.ndarray, tau: int) -> np.ndarray:
        """The ranking score for Uno's C at ``tau``: risk by tau, else by the headline horizon."""
        column = risk[:, self._column(tau)] if tau in self.spec.times else np.full(self.n, np.nan)
        return column if not np.isnan(column).any() else risk[:, self._column(self.spec.headline)]

    # ------------------------------------------------------------------ time-dependent AUC
    def _auc(self, score: np.ndarray, horizon: float) -> NDArray[np.float64]:
        if np.isnan(score).any():
            return np.full(len(self.weights), np.nan)
        case = self.event & (self.time <= horizon)
        control = self.time > horizon
        order = np.argsort(score, kind="stable")
        ranked = score[order]
        left = np.searchsorted(ranked, ranked - TIED_TOL, side="left")
        right = np.searchsorted(ranked, ranked + TIED_TOL, side="right")
        cum_control = np.concatenate(
            [np.zeros((len(self.weights), 1)), np.cumsum(self.weights[:, order] * control[order], axis=1)],
            axis=1,
        )
        credit = cum_control[:, left] + 0.5 * (cum_control[:, right] - cum_control[:, left])
        case_weight = (case * self.inv_g_obs)[order]
        numerator: NDArray[np.float64] = (self.weights[:, order] * case_weight * credit).sum(axis=1)
        denominator: NDArray[np.float64] = (self.weights[:, order] * case_weight).sum(axis=1) * cum_control[
            :, -1
        ]
        with np.errstate(invalid="ignore", divide="ignore"):  # no case or no control in a resample: NaN
            return numerator / denominator

    # ------------------------------------------------------------------ Brier
    def _brier_losses(self, r: np.ndarray, times: np.ndarray) -> np.ndarray:
        """Per patient and time, the IPCW squared error (scikit-survival's ``brier_score`` summand).

        Args:
            r: (n, len(times)) risks by each of ``times``.
            times: days on the evaluation grid.
        """
        columns = [self._column(t) for t in times]
        case = self.event[:, None] & (self.time[:, None] <= times[None, :])
        control = self.time[:, None] > times[None, :]
        inv_g_t = self.inv_g_times[columns]
        losses: NDArray[np.float64] = (
            np.square(1.0 - r) * case * self.inv_g_obs[:, None] + np.square(r) * control * inv_g_t[None, :]
        )
        return losses

    def _brier(self, score: np.ndarray, horizon: float) -> np.ndarray:
        if np.isnan(score).any():
            return np.full(len(self.weights), np.nan)
        brier: NDArray[np.float64] = (
            self.weights @ self._brier_losses(score[:, None], np.array([horizon], dtype=float))[:, 0] / self.n
        )
        return brier

    def _integrated_brier(self, risk: np.ndarray) -> np.ndarray:
        grid = self.spec.brier_grid
        r = risk[:, [self._column(t) for t in grid]]
        if np.isnan(r).any():
            return np.full(len(self.weights), np.nan)
        trapezoid = np.zeros(len(grid))
        gaps = np.diff(grid)
        trapezoid[:-1] += gaps / 2
        trapezoid[1:] += gaps / 2
        per_patient = self._brier_losses(r, grid) @ trapezoid / (grid[-1] - grid[0])
        integrated: NDArray[np.float64] = self.weights @ per_patient / self.n
        return integrated

    # ------------------------------------------------------------------ calibration and net benefit
    def _observed_terms(self, horizon: float) -> tuple[np.ndarray, np.ndarray]:
        """Per patient: IPCW indicator of an event by ``horizon``, and of being event-free past it."""
        case = self.event & (self.time <= horizon)
        control = self.time > horizon
        return case * self.inv_g_obs, control * self.inv_g_times[self._column(horizon)]

    def _calibration_in_the_large(self, risk: np.ndarray) -> dict[str, np.ndarray]:
        horizon = self.spec.headline
        observed = self.weights @ self._observed_terms(horizon)[0] / self.n
        predicted = self.weights @ risk / self.n
        return {
            f"observed_risk_{horizon}": observed,
            f"mean_risk_{horizon}": predicted,
            f"citl_{horizon}": predicted - observed,
        }

    def _net_benefit(self, risk: np.ndarray) -> dict[str, np.ndarray]:
        thresholds = np.asarray(self.spec.thresholds)
        return self._net_benefit_from_treat(risk[:, None] >= thresholds[None, :])

    def _net_benefit_from_treat(self, treat: np.ndarray) -> dict[str, np.ndarray]:
        if np.isnan(treat).any():
            return {}
        case, control = self._observed_terms(self.spec.headline)
        thresholds = np.asarray(self.spec.thresholds)
        benefit = treat * (case[:, None] - control[:, None] * thresholds[None, :] / (1 - thresholds[None, :]))
        values = self.weights @ benefit / self.n
        return {f"nb_{t:.2f}": values[:, k] for k, t in enumerate(thresholds)}

    def _column(self, t: float) -> int:
        index = int(np.searchsorted(self.spec.times, t))
        if index >= len(self.spec.times) or self.spec.times[index] != t:
            raise KeyError(f"time {t} is not on the evaluation grid")
        return index


def order_censoring_after_events(time: np.ndarray, event: np.ndarray) -> np.ndarray:
    """Times with every censoring moved :data:`CENSORING_AFTER_EVENTS` days later.

    See the module docstring.
    """
    return np.where(event, time, time + CENSORING_AFTER_EVENTS)


def bootstrap_weights(n: int, n_boot: int, seed: int) -> np.ndarray:
    """Row 0: every patient once; rows 1..n_boot: how often each patient is drawn in a resample."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n, size=(n_boot, n))
    counts = np.zeros((n_boot + 1, n))
    counts[0] = 1.0
    for b in range(n_boot):
        counts[b + 1] = np.bincount(draws[b], minlength=n)
    return counts


def summarise(values: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """``(point, low, high)``: row 0 and the percentile interval of the resamples."""
    point = float(values[0])
    resamples = values[1:][np.isfinite(values[1:])]
    if not np.isfinite(point) or len(resamples) == 0:
        return point, float("nan"), float("nan")
    alpha = (1 - level) / 2
    return point, float(np.quantile(resamples, alpha)), float(np.quantile(resamples, 1 - alpha))


def _censoring_survival(time: np.ndarray, event: np.ndarray):  # type: ignore[no-untyped-def]
    """G(t), the Kaplan-Meier survival of the censoring time (scikit-survival's estimator)."""
    from sksurv.nonparametric import CensoringDistributionEstimator

    target = np.empty(len(time), dtype=[("event", bool), ("time", np.float64)])
    target["event"], target["time"] = event, time
    estimator = CensoringDistributionEstimator().fit(target)
    last = estimator.unique_time_[-1]

    def g(at: Sequence[float] | np.ndarray) -> np.ndarray:
        survival: NDArray[np.float64] = estimator.predict_proba(
            np.minimum(np.asarray(at, dtype=np.float64), last)
        )
        return survival

    return g


def _inverse(g: np.ndarray) -> np.ndarray:
    """1 / G where G > 0, else 0 (scikit-survival divides by infinity there)."""
    inverse: NDArray[np.float64] = np.divide(1.0, g, out=np.zeros_like(g), where=g > 0)
    return inverse
