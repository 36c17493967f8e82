"""Assemble a landmark's training data: point-in-time features joined to outcome labels."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from features.catalogue import load_catalogue
from features.errors import RegistryError
from features.frame import build_feature_frame
from features.store import read_outcomes

from .labels import HORIZON_DAYS, LabelCounts, build_labels, count_labels

HOLDOUT_FRACTION = 0.2
MIN_EVENTS = 30


class TrainingError(RuntimeError):
    """Training cannot proceed (the message says why); nothing was registered."""


@dataclass(frozen=True)
class TrainingData:
    landmark: str
    horizon_days: int
    frame: pd.DataFrame  # index patient_id; metadata + feature columns; at-risk patients only
    labels: pd.DataFrame  # same index; label (1/0/NaN), time, event
    counts: LabelCounts
    holdout: np.ndarray  # bool per row: the stable held-out set (gate and final metrics)
    fingerprint: str

    @property
    def development(self) -> np.ndarray:
        return ~self.holdout


def load_training_data(store: Path, landmark: str, *, horizon_days: int = HORIZON_DAYS) -> TrainingData:
    """Features as of the landmark, labels from outcomes, and the stable holdout split.

    Raises:
        TrainingError: empty store, no outcomes, or too few events or non-events to train.
    """
    catalogue = load_catalogue()
    if landmark not in catalogue.landmarks:
        raise TrainingError(f"unknown landmark {landmark!r}; expected one of {sorted(catalogue.landmarks)}")
    try:
        frame = build_feature_frame(store, landmark=landmark).set_index("patient_id")
        outcomes = read_outcomes(store)
    except RegistryError as exc:
        raise TrainingError(str(exc)) from exc
    if frame.empty or outcomes.empty:
        raise TrainingError(f"store {store} has no eligible patients or no outcomes for landmark {landmark}; ingest a registry first")
    labels = build_labels(outcomes, landmark_day=catalogue.landmarks[landmark].day, horizon_days=horizon_days)
    labels = labels[labels["at_risk"]].reindex(frame.index)
    labels["at_risk"] = labels["at_risk"].notna()
    counts = count_labels(labels.assign(at_risk=True))
    _check_events(landmark, counts)
    return TrainingData(
        landmark=landmark, horizon_days=horizon_days, frame=frame, labels=labels, counts=counts,
        holdout=holdout_mask(frame.index), fingerprint=frame_fingerprint(frame),
    )


def holdout_mask(patient_ids: pd.Index, fraction: float = HOLDOUT_FRACTION) -> np.ndarray:
    """Stable patient-level holdout: the same patient is held out in every run and version."""
    buckets = np.array([int(hashlib.sha256(str(p).encode()).hexdigest()[:8], 16) for p in patient_ids])
    return (buckets % 1000) < int(fraction * 1000)


def frame_fingerprint(frame: pd.DataFrame) -> str:
    """sha256 of the frame's values and column names (a tag on every training run)."""
    digest = hashlib.sha256(",".join(map(str, frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    return digest.hexdigest()[:16]


def _check_events(landmark: str, counts: LabelCounts) -> None:
    if counts.positive < MIN_EVENTS or counts.negative < MIN_EVENTS:
        raise TrainingError(
            f"landmark {landmark}: {counts.positive} events and {counts.negative} non-events among "
            f"{counts.eligible} eligible patients; at least {MIN_EVENTS} of each are needed to train"
        )
