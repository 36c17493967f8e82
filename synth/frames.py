"""Small random feature frames (every catalogue feature, store dtypes) with planted outcomes.

For model tests and benchmarks that need no registry or store.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.catalogue import load_catalogue


def random_feature_frame(
    n: int, landmark: str = "preinfusion", *, seed: int = 0, missing: float = 0.2
) -> tuple[pd.DataFrame, pd.Series]:
    """A frame with every feature of ``landmark`` and a label that depends on LDH, ECOG and product.

    Dtypes as the feature store writes them; the label gives models something to learn.
    """
    rng = np.random.default_rng(seed)
    columns: dict[str, object] = {
        "patient_id": [f"P{i:05d}" for i in range(n)],
        "center": rng.choice(["C01", "C02", "C03", "C04"], n),
    }
    for spec in load_catalogue().feature_specs(landmark):
        if spec.type == "category":
            values = rng.choice(np.array(spec.levels, dtype=object), n)
        elif spec.type == "bool":
            values = rng.integers(0, 2, n).astype(float)
        else:
            low, high = spec.range or (0.0, 100.0)
            high = min(high, low + 1000)
            values = rng.uniform(low, high, n)
            if spec.type == "int":
                values = np.round(values)
        values = np.asarray(values, dtype=object if spec.type == "category" else float)
        values[rng.random(n) < missing] = None if spec.type == "category" else np.nan
        columns[spec.name] = values
    frame = pd.DataFrame(columns)
    ldh = np.nan_to_num(frame["ldh_preld"].to_numpy(float), nan=500.0)
    ecog = np.nan_to_num(frame["ecog_preld"].to_numpy(float), nan=1.0)
    lp = -1 + ldh / 500 + 0.5 * ecog + 0.8 * (frame["product"] == "tisa-cel").to_numpy()
    label = pd.Series((rng.random(n) < 1 / (1 + np.exp(-lp))).astype(float), index=frame.index)
    return frame, label


def random_survival_frame(
    n: int,
    landmark: str = "preinfusion",
    *,
    seed: int = 0,
    missing: float = 0.2,
    censoring_rate: float = 1 / 900,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A feature frame as :func:`random_feature_frame` and a survival target.

    The hazard rises with LDH, ECOG and tisa-cel: ``time`` (days), ``event`` (bool), ``cause`` (1 progression,
    2 death) and exponential censoring at ``censoring_rate`` per day.
    """
    frame, _ = random_feature_frame(n, landmark, seed=seed, missing=missing)
    rng = np.random.default_rng(seed + 1000)
    ldh = np.nan_to_num(frame["ldh_preld"].to_numpy(float), nan=500.0)
    ecog = np.nan_to_num(frame["ecog_preld"].to_numpy(float), nan=1.0)
    log_hazard = -1.5 + ldh / 500 + 0.5 * ecog + 0.8 * (frame["product"] == "tisa-cel").to_numpy()
    event_time = np.ceil(rng.exponential(250 * np.exp(-log_hazard)))
    censor_time = np.ceil(rng.exponential(1 / censoring_rate, n))
    event = event_time <= censor_time
    targets = pd.DataFrame(
        {
            "time": np.maximum(np.minimum(event_time, censor_time), 1.0),
            "event": event,
            "cause": np.where(event, np.where(rng.random(n) < 0.9, 1, 2), 0),
        },
        index=frame.index,
    )
    return frame, targets
