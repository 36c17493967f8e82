"""Observation rows before formatting: one ``RowBlock`` per biomarker and timepoint.

Values are in the catalogue's canonical unit (or are level strings for categories); days are
relative to (planned) infusion. Units, dates and text formatting are applied later by
``assemble``. Repeats and corrected re-reports are added here, on blocks.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Required, TypedDict

import numpy as np
from numpy.typing import NDArray

from features.catalogue import load_catalogue

from .cohort import Arrays

Values = NDArray[np.float64] | NDArray[np.object_]
"""Canonical numeric values (float) or category level strings (object)."""


class Timing(TypedDict, total=False):
    """When a block's observations are collected and reported (the keyword arguments of :func:`observe`)."""

    days: Required[tuple[int, int]]
    lag: Required[tuple[int, int]]
    window: tuple[int, int] | None
    offset: NDArray[np.int64] | None


@dataclass(frozen=True)
class RowBlock:
    """Observations of one biomarker at one timepoint.

    Attributes:
        biomarker: catalogue name.
        patient: patient index per row.
        value: canonical numeric values (float) or level strings (object).
        day: collection day relative to infusion, per row.
        lag: reporting delay in days, per row.
        window: (first, last) day of the timepoint's window, used to keep repeats inside it;
            None for out-of-window observations (never repeated).
    """

    biomarker: str
    patient: NDArray[np.int64]
    value: Values
    day: NDArray[np.int64]
    lag: NDArray[np.int64]
    window: tuple[int, int] | None = None


def observe(
    rng: np.random.Generator,
    biomarker: str,
    value: Values,
    *,
    present: NDArray[np.bool_],
    days: tuple[int, int],
    lag: tuple[int, int],
    window: tuple[int, int] | None = None,
    offset: NDArray[np.int64] | None = None,
) -> RowBlock:
    """One block of observations for the patients where ``present`` is true.

    Args:
        rng: random generator.
        biomarker: catalogue name.
        value: a value for every patient (only the present ones are kept).
        present: which patients have this observation.
        days: inclusive range of collection days (relative to infusion).
        lag: inclusive range of reporting delays in days.
        window: window that repeats must stay in (defaults to ``days``).
        offset: per-patient day added to ``days`` (e.g. minus the vein-to-vein time for rows
            collected at apheresis).

    Returns:
        The block.
    """
    idx = np.flatnonzero(present)
    day = rng.integers(days[0], days[1] + 1, size=len(idx))
    if offset is not None:
        day = day + offset[idx]
    return RowBlock(
        biomarker=biomarker,
        patient=idx,
        value=value[idx],
        day=day,
        lag=rng.integers(lag[0], lag[1] + 1, size=len(idx)),
        window=window if window is not None else days,
    )


def draw(rng: np.random.Generator, p: float | NDArray[np.float64], n: int) -> NDArray[np.bool_]:
    """Bernoulli presence flags with probability ``p`` (scalar or per patient)."""
    return rng.random(n) < p


def add_repeats(rng: np.random.Generator, blocks: list[RowBlock], *, rate: float = 0.03) -> list[RowBlock]:
    """Repeat a few percent of float in-window measurements on another day of the same window.

    Args:
        rng: random generator.
        blocks: the observation blocks.
        rate: fraction of in-window rows of float biomarkers repeated.

    Returns:
        The input blocks followed by the repeat blocks.
    """
    extra = []
    for block in blocks:
        if block.window is None or not is_float(block.biomarker) or len(block.patient) == 0:
            continue
        pick = rng.random(len(block.patient)) < rate
        shift = rng.choice([-2, -1, 1, 2], size=pick.sum())
        day = block.day[pick] + shift
        outside = (day < block.window[0]) | (day > block.window[1])
        day = np.where(outside, block.day[pick] - shift, day)  # stays in the window, never the same day
        value = block.value[pick] * rng.lognormal(0.0, 0.07, size=pick.sum())
        extra.append(replace(block, patient=block.patient[pick], value=value, day=day, lag=block.lag[pick]))
    return blocks + extra


def add_corrections(
    rng: np.random.Generator, blocks: list[RowBlock], *, rate: float = 0.006
) -> list[RowBlock]:
    """Corrected re-reports: same patient, biomarker and collection day, later report, new value.

    Args:
        rng: random generator.
        blocks: the observation blocks.
        rate: fraction of rows of float biomarkers that get a correction.

    Returns:
        The input blocks followed by the correction blocks.
    """
    extra = []
    for block in blocks:
        if not is_float(block.biomarker) or len(block.patient) == 0:
            continue
        pick = rng.random(len(block.patient)) < rate
        factor = 1.0 + rng.choice([-1.0, 1.0], size=pick.sum()) * rng.uniform(0.05, 0.3, size=pick.sum())
        extra.append(
            replace(
                block,
                patient=block.patient[pick],
                value=block.value[pick] * factor,
                day=block.day[pick],
                lag=block.lag[pick] + rng.integers(1, 8, size=pick.sum()),
                window=None,
            )
        )
    return blocks + extra


def keep_observable(blocks: list[RowBlock], ctx: Arrays) -> list[RowBlock]:
    """Drop rows collected after the patient's last observable day (death, attrition, cut-off).

    Args:
        blocks: observation blocks.
        ctx: patient arrays with ``obs_end`` (relative day) and ``report_end`` (last relative day
            on which a result can be reported: the data cut-off).

    Returns:
        Blocks restricted to observable rows.
    """
    kept = []
    for b in blocks:
        ok = (b.day <= ctx["obs_end"][b.patient]) & (b.day + b.lag <= ctx["report_end"][b.patient])
        kept.append(replace(b, patient=b.patient[ok], value=b.value[ok], day=b.day[ok], lag=b.lag[ok]))
    return kept


def is_float(biomarker: str) -> bool:
    """Whether the catalogue types ``biomarker`` as a float (not int, bool or category)."""
    return load_catalogue().biomarker(biomarker).type == "float"


def window_days(name: str) -> tuple[int, int]:
    """(start, end) days of a catalogue window."""
    w = load_catalogue().windows[name]
    return w.start, w.end
