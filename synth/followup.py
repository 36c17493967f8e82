"""What the registry records of each patient's course: assessments, symptoms, loss to follow-up.

* Progression is found at the first scheduled assessment on or after it (days 30, 90, 180, 365,
  then every 182 days), or earlier when it becomes symptomatic between assessments; it is recorded
  on that date. A progression not found before death or before the last contact is not recorded.
* Deaths are recorded on the day, while the patient is followed. A patient who dies of a progression
  not yet found has it recorded on the death date (cause of death: lymphoma).
* Loss to follow-up is informative: responders (day-30 Deauville 1-3) are handed back to their
  referring centre after an assessment more often, and US centres (wide referral areas) more often
  than EU ones; a few patients go home before the day-30 assessment; a small background loss
  applies to everyone. The data cut-off ends follow-up for the rest.
* ``last_followup`` is the last contact: the death date, the day of loss, or (for patients followed
  to the cut-off) the last assessment before it, never before a recorded progression.

All rates here are engineering estimates [E]; evidence.md has no published loss-to-follow-up
figure for CAR-T registries.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .cohort import Arrays

FIRST_ASSESSMENTS = (30, 90, 180, 365)
LATER_EVERY = 182
SYMPTOM_MEDIAN = 30.0  # days from progression to symptoms that trigger an unscheduled visit [E]
SYMPTOM_SIGMA = 0.9
_EARLY_HOME = 0.02  # leave before the day-30 assessment (days 14-28) [E]
_BACKGROUND_LOSS = 0.02  # per year, anyone [E]
_HANDBACK = {"responder_us": 0.07, "responder_eu": 0.045, "other": 0.015}  # per assessment [E]


def assessment_days(until: float) -> NDArray[np.int64]:
    """The scheduled assessment days after infusion, far enough to cover ``until``.

    Args:
        until: last day of interest.

    Returns:
        Days 30, 90, 180, 365, then every 182 days, up to and including the first one on or after
        ``until`` (always at least the first four).
    """
    later = np.arange(FIRST_ASSESSMENTS[-1] + LATER_EVERY, max(until, 0) + LATER_EVERY, LATER_EVERY)
    return np.concatenate([FIRST_ASSESSMENTS, later]).astype(np.int64)


def sample_followup(rng: np.random.Generator, ctx: Arrays) -> Arrays:
    """Recorded progression and death, last contact and observable span of every patient.

    Args:
        rng: random generator.
        ctx: merged arrays with ``infused``, ``eu``, ``dropout``, ``progression_latent``,
            ``death_latent``, ``responder`` (day-30 Deauville 1-3) and ``report_end`` (the cut-off,
            relative day).

    Returns:
        Arrays (relative days, NaN when not recorded): ``progression``, ``death``,
        ``last_followup``, ``obs_end`` (last day an observation can exist), ``symptomatic`` (the
        progression was found between assessments) and ``lost`` (contact ended before the cut-off
        without death).
    """
    found, symptomatic = _found_day(rng, ctx["progression_latent"])
    loss = np.minimum(_handback_day(rng, ctx, found), _other_loss_day(rng, ctx["infused"]))
    contact = np.minimum(ctx["report_end"], loss)
    death = ctx["death_latent"]
    never = ~ctx["infused"]
    found = np.where(never, ctx["progression_latent"], found)
    found = np.where((ctx["progression_latent"] < death) & (death < found), death, found)
    recorded = (found <= contact) & (found <= death)
    progression = np.where(recorded, np.floor(found), np.nan)
    death_rec = np.where(death <= contact, np.floor(death), np.nan)
    last = _last_contact(ctx, contact, loss, progression, death_rec)
    return {
        "progression": progression,
        "death": death_rec,
        "last_followup": last,
        "obs_end": np.where(never, ctx["dropout"], last),
        "symptomatic": recorded & symptomatic & ~never,
        "lost": (loss < ctx["report_end"]) & np.isnan(death_rec),
    }


def _found_day(
    rng: np.random.Generator, progression: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """First assessment on or after progression, or the symptom day if that comes first."""
    finite = np.isfinite(progression)
    schedule = assessment_days(float(np.max(progression[finite], initial=0.0)))
    idx = np.searchsorted(schedule, np.where(finite, np.ceil(progression), 0), side="left")
    visit = np.where(finite, schedule[np.minimum(idx, len(schedule) - 1)], np.inf).astype(float)
    symptoms = progression + rng.lognormal(np.log(SYMPTOM_MEDIAN), SYMPTOM_SIGMA, size=len(progression))
    symptomatic = symptoms < visit
    return np.where(symptomatic, symptoms, visit), symptomatic


def _handback_day(rng: np.random.Generator, ctx: Arrays, found: NDArray[np.float64]) -> NDArray[np.float64]:
    """Assessment after which a patient still event-free is handed back and lost (inf if never)."""
    n = len(found)
    responder = ctx["responder"]
    q = np.where(
        responder,
        np.where(ctx["eu"], _HANDBACK["responder_eu"], _HANDBACK["responder_us"]),
        _HANDBACK["other"],
    )
    k = rng.geometric(q, size=n)  # the k-th assessment is the one after which the patient leaves
    schedule = assessment_days(float(np.max(ctx["report_end"], initial=0.0)) + 365.0)
    day = schedule[np.minimum(k - 1, len(schedule) - 1)].astype(float)
    event_free = (day < found) & (day < ctx["death_latent"]) & ctx["infused"]
    return np.where(event_free, day, np.inf)


def _other_loss_day(rng: np.random.Generator, infused: NDArray[np.bool_]) -> NDArray[np.float64]:
    """Going home before the day-30 assessment (a few infused patients), or background loss at any time."""
    n = len(infused)
    background = rng.exponential(365.0 / _BACKGROUND_LOSS, size=n)
    early = infused & (rng.random(n) < _EARLY_HOME)
    return np.where(early, rng.integers(14, 29, size=n).astype(float), background)


def _last_contact(
    ctx: Arrays,
    contact: NDArray[np.float64],
    loss: NDArray[np.float64],
    progression: NDArray[np.float64],
    death: NDArray[np.float64],
) -> NDArray[np.float64]:
    """Death day, loss day, or the last assessment before the cut-off (not before a progression)."""
    cutoff = ctx["report_end"]
    schedule = assessment_days(float(np.max(cutoff, initial=0.0)))
    last_visit = schedule[np.maximum(np.searchsorted(schedule, cutoff, side="right") - 1, 0)].astype(float)
    last_visit = np.where(cutoff < schedule[0], cutoff, last_visit)
    followed = np.where(loss < cutoff, np.floor(contact), np.fmax(last_visit, progression))
    last = np.where(np.isnan(death), followed, death)
    never = ~ctx["infused"]
    return np.where(never, np.floor(np.where(np.isnan(death), contact, death)), last)
