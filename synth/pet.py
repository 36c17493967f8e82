"""Day-30 FDG-PET measurement model: what the one-month scan sees, and how it is read.

SUVmax reads the hottest focus, and at one month that focus is one of three (evidence.md section 4):

* residual tumour: the day-30 residual disease (``tumour30``) seen through the scan's own noise
  (lesion size and site, partial volume, uptake time), ``SUV = LIVER_SUV * exp(TUMOUR_SLOPE *
  (tumour30 - TUMOUR_AT_LIVER) + noise)``; disease that progressed before the scan adds new or
  growing lesions;
* immune/inflammatory uptake, independent of tumour: Dean 2023 found day-30 MTV and day-28 ctDNA
  uncorrelated (rs 0.28, P=.11) while both tracked each other at baseline (0.61) and month 3
  (0.79), i.e. one-month residual uptake often reflects the immune response, not tumour. Its
  SUVmax is log-normal around ``IMMUNE_SUV`` and saturates near 1.5 x liver (``IMMUNE_MAX_SUV``,
  [E]), so it reaches Deauville 4 but rarely Deauville 5; DS4 mixes
  immune uptake (good prognosis) with residual tumour: DS4 behaves close to DS1-3 (Galtier 2023:
  1-year PFS 78.9% vs 67.3%; Kuhnl 2022: progression by month 6 46% vs 15-32%), DS5 is very high
  risk (Galtier 1-year PFS 8.6%; Kuhnl 100% by month 6);
* blood-pool background at about mediastinal level.

Deauville is the visual read of SUVmax against the patient's liver (mediastinum 0.7 x liver, DS5
above ``DS5_LIVER_MULTIPLE`` x liver), with reader noise; progression before the scan is read DS5.
High SUVmax in a PR/SD patient is nearly always tumour: Al Zaki 2022 (all D30 PR/SD with SUVmax >= 10
progressed; the JNM 2025 optimal cut-off was 9.1). MTV counts volume above liver uptake: 0 for DS1-3.

The constants below are engineering values [E] calibrated against those facts (the day-30 anchors
in ``anchor_day30``: Deauville shares, outcome by Deauville, PET vs ctDNA rank correlation).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .cohort import Arrays

LIVER_SUV = 2.6
MEDIASTINUM_RATIO = 0.7
BACKGROUND_SUV = 1.5
TUMOUR_AT_LIVER = 2.6  # tumour30 at which the residual focus matches liver uptake
TUMOUR_SLOPE = 0.4  # log SUV per unit of tumour30
TUMOUR_SCAN_SD = 0.45  # scan noise on the tumour focus (log SUV)
IMMUNE_SUV = 1.9  # median SUVmax of immune/inflammatory uptake [E]
IMMUNE_SD = 0.72  # log SUV
IMMUNE_MAX_SUV = 1.55 * LIVER_SUV  # immune uptake saturates at DS4 level, rarely DS5 [E]
PROGRESSION_FACTOR = 3.0  # progression before the scan: new or enlarging lesions
DS5_LIVER_MULTIPLE = 2.6  # Deauville 5: markedly above liver (2-3 x)
READER_SD = 0.2  # the visual read (log scale); liver reference varies between patients too
LIVER_SD = 0.12


def sample_day30_pet(rng: np.random.Generator, ctx: Arrays) -> Arrays:
    """The day-30 scan of every patient (emitted only for those scanned in time).

    Args:
        rng: random generator.
        ctx: merged arrays with ``tumour30`` and ``progression_latent``.

    Returns:
        ``suv30`` (SUVmax), ``deauville30`` (1-5), ``mtv30`` (mL) and ``pet_tumour_focus`` (the
        hottest focus is tumour).
    """
    n = len(ctx["tumour30"])
    progressed = ctx["progression_latent"] <= 30
    tumour = tumour_suv(rng, ctx["tumour30"], progressed)
    immune = _saturate(IMMUNE_SUV * np.exp(IMMUNE_SD * rng.normal(size=n)), IMMUNE_MAX_SUV)
    suv = np.maximum.reduce([tumour, immune, np.full(n, BACKGROUND_SUV)]) * np.exp(0.05 * rng.normal(size=n))
    ds = read_deauville(rng, suv, progressed)
    return {
        "suv30": suv,
        "deauville30": ds,
        "mtv30": _mtv(rng, tumour, immune, ds),
        "pet_tumour_focus": tumour >= immune,
    }


def tumour_suv(
    rng: np.random.Generator, disease: NDArray[np.float64], progressed: NDArray[np.bool_]
) -> NDArray[np.float64]:
    """SUVmax of the hottest tumour focus, seen through the scan's own noise.

    Args:
        rng: random generator.
        disease: residual disease at the scan (the ``tumour30`` scale).
        progressed: progression before the scan (new or enlarging lesions).

    Returns:
        SUVmax of the tumour focus.
    """
    log_ratio = TUMOUR_SLOPE * (disease - TUMOUR_AT_LIVER) + TUMOUR_SCAN_SD * rng.normal(size=len(disease))
    suv: NDArray[np.float64] = LIVER_SUV * np.exp(log_ratio) * np.where(progressed, PROGRESSION_FACTOR, 1.0)
    return suv


def read_deauville(
    rng: np.random.Generator, suv: NDArray[np.float64], progressed: NDArray[np.bool_]
) -> NDArray[np.int64]:
    """Deauville 1-5 from SUVmax against a patient-specific liver, with reader noise.

    Args:
        rng: random generator.
        suv: SUVmax of the scan.
        progressed: progression before the scan (read DS5).

    Returns:
        Deauville scores (DS1 vs DS2 split at random, 40/60).
    """
    n = len(suv)
    liver = LIVER_SUV * np.exp(LIVER_SD * rng.normal(size=n))
    ratio = np.log(suv / liver) + READER_SD * rng.normal(size=n)
    cuts = np.log([MEDIASTINUM_RATIO, 1.0, DS5_LIVER_MULTIPLE])
    band = np.searchsorted(cuts, ratio)  # 0: DS1-2, 1: DS3, 2: DS4, 3: DS5
    ds = np.where(band == 0, np.where(rng.random(n) < 0.4, 1, 2), band + 2)
    return np.where(progressed, 5, ds).astype(np.int64)


def _saturate(suv: NDArray[np.float64], ceiling: float) -> NDArray[np.float64]:
    """A smooth minimum of ``suv`` and ``ceiling`` (no pile-up of values at the ceiling)."""
    smooth: NDArray[np.float64] = (suv**-4.0 + ceiling**-4.0) ** -0.25
    return smooth


def _mtv(
    rng: np.random.Generator,
    tumour: NDArray[np.float64],
    immune: NDArray[np.float64],
    ds: NDArray[np.int64],
) -> NDArray[np.float64]:
    """Metabolic volume above liver uptake (mL): tumour lesions grow with uptake, immune foci are small."""
    n = len(ds)
    tumour_ml = np.where(
        tumour > LIVER_SUV, 6.0 * (tumour / LIVER_SUV) ** 2.2 * np.exp(0.6 * rng.normal(size=n)), 0.0
    )
    immune_ml = np.where(immune > LIVER_SUV, 4.0 * np.exp(0.7 * rng.normal(size=n)), 0.0)
    return np.where(ds <= 3, 0.0, np.maximum(tumour_ml + immune_ml, 0.5))
