"""Who the synthetic patients are: centre, product, age, sex, apheresis date.

Everything here is known at apheresis and drawn independently of disease latents except where
the evidence says otherwise (age differs by product; product mix differs by centre).

Accrual is staggered: apheresis dates run from ``FIRST_APHERESIS`` to ``LAST_APHERESIS``, more
frequent in later years (uptake grew), and follow-up stops at ``DATA_CUTOFF``, so the most recent
patients have only months of follow-up.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from .centres import CENTRES, PRODUCTS, centre_weights, draw_centre_log_hr

Arrays = dict[str, NDArray[Any]]

FIRST_APHERESIS = np.datetime64("2018-01-01", "D")
LAST_APHERESIS = np.datetime64("2024-12-31", "D")
DATA_CUTOFF = np.datetime64("2025-06-30", "D")

# Age at apheresis by product (evidence 1a: axi 62 (52-68), tisa 71 (62-77), liso 71 (64-78)).
_AGE_MEAN = np.array([60.5, 69.0, 70.0])
_AGE_SD = np.array([11.0, 10.5, 9.5])


def sample_patients(rng: np.random.Generator, n: int) -> Arrays:
    """Draw the apheresis-time description of ``n`` patients.

    Args:
        rng: random generator (the only source of randomness).
        n: number of apheresed patients.

    Returns:
        Arrays of length ``n``: ``centre`` (index into ``CENTRES``), ``eu`` (bool), ``product``
        (index into ``PRODUCTS``), ``age`` (years), ``male`` (bool), ``apheresis_day`` (days
        since 1970-01-01) and ``centre_log_hr`` (the centre's log hazard ratio).
    """
    centre = rng.choice(len(CENTRES), size=n, p=centre_weights())
    product = _sample_products(rng, centre)
    age = np.clip(np.round(rng.normal(_AGE_MEAN[product], _AGE_SD[product])), 19, 90)
    span = int((LAST_APHERESIS - FIRST_APHERESIS).astype(int))
    # Uptake grew over the years: later apheresis dates are more frequent.
    apheresis = FIRST_APHERESIS.astype(int) + np.floor(span * rng.power(1.4, size=n)).astype(np.int64)
    return {
        "centre": centre,
        "eu": np.array([c.region == "EU" for c in CENTRES])[centre],
        "product": product,
        "age": age,
        "male": rng.random(n) < 0.62,
        "apheresis_day": apheresis,
        "centre_log_hr": draw_centre_log_hr(rng)[centre],
    }


def product_names(product: NDArray[np.int64]) -> NDArray[np.object_]:
    """Product index -> product name (``axi-cel``, ``tisa-cel``, ``liso-cel``)."""
    return np.array(PRODUCTS, dtype=object)[product]


def _sample_products(rng: np.random.Generator, centre: NDArray[np.int64]) -> NDArray[np.int64]:
    """One product per patient from the centre's product mix (inverse-CDF, vectorised)."""
    mix = np.array([c.product_mix for c in CENTRES], dtype=float)
    cdf = np.cumsum(mix / mix.sum(axis=1, keepdims=True), axis=1)[centre]
    u = rng.random(len(centre))[:, None]
    product: NDArray[np.int64] = np.minimum((u > cdf).sum(axis=1), len(PRODUCTS) - 1)
    return product
