"""Pre-infusion latent state and treatment history of each patient.

Latents (standardised, mean 0): tumour ``burden`` at apheresis, ``inflammation`` (correlated with
burden), ``frailty`` (drives ECOG; burden, inflammation and age raise it) and T-cell ``fitness``
(lower with more prior lines, recent bendamustine and age). Disease biology is carried by the
observed flags ``primary_refractory`` and ``tp53``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .cohort import Arrays

# ECOG cut-points on the frailty latent (ECOG >=2 in about 15%; evidence 1a: 10-20%).
ECOG_CUTS = np.array([-0.25, 1.15, 2.05, 2.75])


def sample_history(rng: np.random.Generator, patients: Arrays) -> Arrays:
    """Draw disease latents and the treatment history recorded at apheresis.

    Args:
        rng: random generator.
        patients: output of ``sample_patients``.

    Returns:
        Arrays per patient: latents ``burden``, ``inflammation``, ``frailty``, ``fitness``;
        history ``prior_lines``, ``primary_refractory``, ``benda_exposed``, ``benda_washout``
        (months, NaN if unexposed), ``tp53``, ``double_hit``, ``gcb``, ``stage``,
        ``extranodal``, ``cirs`` and ``ecog_apheresis``.
    """
    n = len(patients["age"])
    out = _sample_treatment_history(rng, patients)
    burden = rng.normal(size=n) + 0.15 * out["primary_refractory"]
    inflammation = 0.45 * burden + 0.89 * rng.normal(size=n)
    age_z = (patients["age"] - 63.0) / 10.0
    frailty = 0.45 * burden + 0.25 * inflammation + 0.15 * age_z + 0.8 * rng.normal(size=n)
    recent = out["benda_washout"] < 9.0
    fitness = (
        -0.45 * (np.log2(out["prior_lines"]) - 1.0)
        - 0.9 * recent
        - 0.3 * (out["benda_exposed"] & ~recent)
        - 0.15 * age_z
        + 0.8 * rng.normal(size=n)
    )
    out.update(
        burden=burden,
        inflammation=inflammation,
        frailty=frailty,
        fitness=fitness,
        tp53=rng.random(n) < 0.25,
        double_hit=rng.random(n) < 0.19,
        gcb=rng.random(n) < 0.5,
        stage=_sample_stage(rng, burden),
        extranodal=rng.poisson(np.exp(-0.1 + 0.45 * burden)),
        cirs=np.minimum(rng.negative_binomial(6, 6 / (6 + 6.5 + 0.8 * np.clip(age_z, -3, 3))), 56),
        ecog_apheresis=ecog_from_frailty(frailty),
    )
    return out


def ecog_from_frailty(frailty: NDArray[np.float64]) -> NDArray[np.int64]:
    """ECOG performance status 0-4 from the frailty latent.

    Args:
        frailty: latent frailty (higher is worse).

    Returns:
        ECOG 0-4.
    """
    return np.searchsorted(ECOG_CUTS, frailty).astype(np.int64)


def _sample_treatment_history(rng: np.random.Generator, patients: Arrays) -> Arrays:
    """Prior lines, primary refractoriness and bendamustine exposure/washout."""
    n = len(patients["age"])
    axi = patients["product"] == 0
    second_line = rng.random(n) < np.where(patients["product"] == 1, 0.05, 0.2)
    lines = np.where(second_line, 1, 2 + rng.geometric(0.55, size=n) - 1)
    exposed = rng.random(n) < 0.18
    washout = np.where(exposed, np.clip(rng.lognormal(np.log(8.5), 0.9, size=n), 0.5, 360), np.nan)
    return {
        "prior_lines": np.minimum(lines, 15),
        "primary_refractory": rng.random(n) < np.where(axi, 0.50, 0.36),
        "benda_exposed": exposed,
        "benda_washout": np.round(washout, 1),
    }


def _sample_stage(rng: np.random.Generator, burden: NDArray[np.float64]) -> NDArray[np.int64]:
    """Ann Arbor stage 1-4; stage III-IV in about 80%, more likely with high burden."""
    advanced = rng.random(len(burden)) < 1.0 / (1.0 + np.exp(-(1.6 + 1.1 * burden)))
    four = rng.random(len(burden)) < 0.65
    two = rng.random(len(burden)) < 0.6
    return np.where(advanced, np.where(four, 4, 3), np.where(two, 2, 1)).astype(np.int64)
