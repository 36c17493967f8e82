"""Treating centres of the synthetic registry and their local conventions.

Each centre reports in its own units (all canonical or accepted alternatives in the catalogue),
has its own LDH upper limit of normal, product mix and research programmes (ctDNA, flow
cytometry, CAR-T expansion) that decide whether those assays exist at all for its patients.

Each centre also has its own effect on the hazard of progression and non-relapse death
(``centre_log_hr``): centres differ in outcome beyond their case mix, so leave-one-centre-out
validation is a real transport test.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

PRODUCTS: tuple[str, ...] = ("axi-cel", "tisa-cel", "liso-cel")


@dataclass(frozen=True)
class Centre:
    """One treating centre.

    Attributes:
        id: centre code written to ``patients.center``.
        region: ``EU`` or ``US``.
        weight: share of the registry's patients.
        product_mix: probabilities of axi-cel, tisa-cel, liso-cel.
        ldh_uln: the centre's LDH upper limit of normal in U/L.
        ferritin_uln: the centre's ferritin upper limit of normal in ng/mL.
        units: biomarker -> unit the centre reports in (canonical when absent).
        ctdna: probability that a patient is in the centre's ctDNA programme.
        flow: probability of the research flow-cytometry panel (apheresis and product phenotypes).
        expansion: probability that CAR-T expansion is measured after infusion.
        tmtv: probability that baseline PET is segmented (TMTV/TLG reported).
        il6: probability that IL-6 is drawn.
    """

    id: str
    region: str
    weight: float
    product_mix: tuple[float, float, float]
    ldh_uln: float
    ferritin_uln: float
    units: dict[str, str] = field(default_factory=dict)
    ctdna: float = 0.0
    flow: float = 0.0
    expansion: float = 0.0
    tmtv: float = 0.35
    il6: float = 0.1


_EU_SI = {"crp": "mg/L", "albumin": "g/L", "hemoglobin": "g/L", "creatinine": "umol/L", "bilirubin": "umol/L"}

CENTRES: tuple[Centre, ...] = (
    Centre(
        "C01",
        "US",
        0.18,
        (0.60, 0.15, 0.25),
        225,
        300,
        {"platelets": "K/uL", "anc": "K/uL", "alc": "K/uL"},
        ctdna=0.80,
        flow=0.30,
        expansion=0.70,
        tmtv=0.55,
        il6=0.30,
    ),
    Centre(
        "C02",
        "US",
        0.14,
        (0.55, 0.20, 0.25),
        246,
        336,
        {
            "platelets": "10^3/uL",
            "anc": "cells/uL",
            "alc": "cells/uL",
            "cd3_count": "10^9/L",
            "cd4_count": "10^9/L",
            "cd8_count": "10^9/L",
        },
        ctdna=0.35,
        flow=0.10,
        expansion=0.40,
        tmtv=0.30,
        il6=0.15,
    ),
    Centre(
        "C03",
        "US",
        0.12,
        (0.50, 0.25, 0.25),
        280,
        400,
        {"crp": "mg/L", "tmtv": "cm3"},
        ctdna=0.0,
        flow=0.0,
        expansion=0.0,
        tmtv=0.15,
        il6=0.05,
    ),
    Centre(
        "C04",
        "US",
        0.10,
        (0.40, 0.15, 0.45),
        333,
        300,
        {"platelets": "K/uL", "ferritin": "ug/L"},
        ctdna=0.10,
        flow=0.0,
        expansion=0.20,
        tmtv=0.20,
        il6=0.10,
    ),
    Centre(
        "C05",
        "EU",
        0.14,
        (0.45, 0.55, 0.00),
        250,
        400,
        {"crp": "mg/L", "albumin": "g/L", "il6": "ng/L"},
        ctdna=0.30,
        flow=0.20,
        expansion=0.50,
        tmtv=0.45,
        il6=0.40,
    ),
    Centre(
        "C06",
        "EU",
        0.12,
        (0.50, 0.45, 0.05),
        225,
        300,
        {**_EU_SI, "ldh": "ukat/L", "ctdna": "GE/mL", "ferritin": "ug/L"},
        ctdna=0.45,
        flow=0.15,
        expansion=0.30,
        tmtv=0.50,
        il6=0.20,
    ),
    Centre(
        "C07",
        "EU",
        0.11,
        (0.55, 0.45, 0.00),
        280,
        322,
        {**_EU_SI, "tmtv": "cm3"},
        ctdna=0.05,
        flow=0.0,
        expansion=0.10,
        tmtv=0.25,
        il6=0.05,
    ),
    Centre(
        "C08",
        "EU",
        0.09,
        (0.45, 0.40, 0.15),
        333,
        400,
        {"crp": "mg/L", "creatinine": "umol/L"},
        ctdna=0.0,
        flow=0.05,
        expansion=0.20,
        tmtv=0.30,
        il6=0.10,
    ),
)


# Between-centre spread of outcome [E]. Multicentre CAR-T registries report centre heterogeneity
# without a published variance; a between-centre log hazard ratio SD of 0.1-0.3 is usual for
# multicentre survival data. The effect shifts the post-infusion log-hazard latent (``course``),
# which the cure-type progression model passes on to a Cox hazard ratio at less than half its size:
# a latent SD of 0.45 shows up as a product-adjusted Cox log-HR SD of about 0.19 (the centre anchor).
CENTRE_LOG_HR_SD = 0.45


def draw_centre_log_hr(rng: np.random.Generator) -> NDArray[np.float64]:
    """Each centre's effect on the log hazard: random per seed, with a fixed spread.

    The draws are standardised to a patient-weighted mean of 0 (the registry-wide outcome does not
    move with the seed) and a patient-weighted SD of ``CENTRE_LOG_HR_SD``; which centre does
    better or worse is what the seed decides.

    Args:
        rng: random generator.

    Returns:
        One log-hazard shift per centre, in ``CENTRES`` order.
    """
    w = centre_weights()
    z = rng.normal(size=len(CENTRES))
    z = z - np.sum(w * z)
    shifts: NDArray[np.float64] = CENTRE_LOG_HR_SD * z / np.sqrt(np.sum(w * z**2))
    return shifts


def centre_weights() -> NDArray[np.float64]:
    """Normalised patient shares of the centres, in ``CENTRES`` order."""
    w = np.array([c.weight for c in CENTRES], dtype=np.float64)
    shares: NDArray[np.float64] = w / w.sum()
    return shares


def centre_attribute(centre_idx: NDArray[np.int64], name: str) -> NDArray[np.float64]:
    """A numeric centre attribute broadcast to patients.

    Args:
        centre_idx: index into ``CENTRES`` per patient.
        name: a float attribute of ``Centre`` (e.g. ``ctdna``, ``ldh_uln``).

    Returns:
        One value per patient.
    """
    return np.array([getattr(c, name) for c in CENTRES], dtype=float)[centre_idx]


def centre_units(centre_idx: NDArray[np.int64], biomarker: str, canonical: str) -> NDArray[np.object_]:
    """The unit each patient's centre reports ``biomarker`` in.

    Args:
        centre_idx: index into ``CENTRES`` per patient.
        biomarker: catalogue name.
        canonical: the catalogue's canonical unit, used where the centre has no convention.

    Returns:
        One unit string per patient.
    """
    table = np.array([c.units.get(biomarker, canonical) for c in CENTRES], dtype=object)
    return table[centre_idx]
