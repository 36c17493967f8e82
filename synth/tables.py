"""The ``patients`` and ``outcomes`` tables of the synthetic registry."""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from .assemble import iso_dates
from .centres import CENTRES
from .cohort import Arrays, product_names


def patient_ids(n: int) -> NDArray[np.object_]:
    """Registry identifiers ``P000001``... (never a name or hospital number).

    Args:
        n: number of patients.

    Returns:
        Object array of ids.
    """
    return np.array([f"P{i:06d}" for i in range(1, n + 1)], dtype=object)


def patients_table(ctx: Arrays, ids: NDArray[np.object_]) -> pd.DataFrame:
    """One row per apheresed patient; ``infusion_date`` empty if never infused.

    Args:
        ctx: merged patient, history and course arrays.
        ids: patient_id per patient.

    Returns:
        The ``patients`` frame.
    """
    infusion = np.where(ctx["infused"], ctx["infusion_day"], np.nan)
    return pd.DataFrame(
        {
            "patient_id": ids,
            "center": np.array([c.id for c in CENTRES], dtype=object)[ctx["centre"]],
            "sex": np.where(ctx["male"], "M", "F").astype(object),
            "age": ctx["age"].astype(np.int64),
            "product": product_names(ctx["product"]),
            "apheresis_date": iso_dates(ctx["apheresis_day"]),
            "infusion_date": iso_dates(infusion),
        }
    )


def outcomes_table(ctx: Arrays, ids: NDArray[np.object_]) -> pd.DataFrame:
    """One follow-up row per patient; dates relative to (planned) infusion made absolute.

    Args:
        ctx: merged patient, history and course arrays.
        ids: patient_id per patient.

    Returns:
        The ``outcomes`` frame.
    """
    anchor = ctx["infusion_day"]
    return pd.DataFrame(
        {
            "patient_id": ids,
            "progression_date": iso_dates(anchor + ctx["progression"]),
            "death_date": iso_dates(anchor + ctx["death"]),
            "last_followup_date": iso_dates(anchor + ctx["last_followup"]),
        }
    )
