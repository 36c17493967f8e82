"""Assemble a landmark's training data: point-in-time features joined to survival targets."""

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

from .config import load_training_config
from .labels import TargetCounts, build_targets, count_targets, structured_target


class TrainingError(RuntimeError):
    """Training cannot proceed (the message says why); nothing was registered."""


@dataclass(frozen=True)
class TrainingData:
    """One landmark's training data: features and targets of the eligible patients, and the held-out set."""

    landmark: str
    landmark_day: int
    frame: pd.DataFrame  # index patient_id; metadata + feature columns; eligible patients only
    targets: pd.DataFrame  # same index; time, event, cause, label_365 (see training.labels)
    counts: TargetCounts
    holdout: np.ndarray  # bool per row: the stable held-out set (gate and final metrics)
    fingerprint: str

    @property
    def development(self) -> np.ndarray:
        """The development rows (every row not held out)."""
        return ~self.holdout

    def y(self, mask: np.ndarray | None = None) -> np.ndarray:
        """The scikit-survival target of the rows in ``mask`` (all rows by default)."""
        return structured_target(self.targets if mask is None else self.targets[mask])


def load_training_data(store: Path, landmark: str) -> TrainingData:
    """Features as of the landmark, survival targets from outcomes, and the stable holdout split.

    Raises:
        TrainingError: unknown landmark, empty store, no outcomes, or too few events to train.
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
        raise TrainingError(
            f"store {store} has no eligible patients or no outcomes for landmark {landmark}; ingest a "
            "registry first"
        )
    day = catalogue.landmarks[landmark].day
    targets = build_targets(outcomes, landmark_day=day)
    counts = count_targets(targets)
    eligible = targets.index[targets["status"] == "eligible"].intersection(frame.index)
    frame, targets = frame.loc[eligible], targets.loc[eligible]
    _check_events(landmark, counts)
    fraction = load_training_config().evaluation.holdout_fraction
    return TrainingData(
        landmark=landmark,
        landmark_day=day,
        frame=frame,
        targets=targets,
        counts=counts,
        holdout=holdout_mask(frame.index, fraction),
        fingerprint=frame_fingerprint(frame),
    )


def holdout_mask(patient_ids: pd.Index, fraction: float = 0.2) -> np.ndarray:
    """Stable patient-level holdout: the same patient is held out in every run and version."""
    buckets = np.array(
        [int(hashlib.sha256(str(p).encode()).hexdigest()[:8], 16) for p in patient_ids], dtype=np.int64
    )
    return (buckets % 1000) < int(fraction * 1000)


def frame_fingerprint(frame: pd.DataFrame) -> str:
    """sha256 of the frame's values and column names (a tag on every training run)."""
    digest = hashlib.sha256(",".join(map(str, frame.columns)).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    return digest.hexdigest()[:16]


def _check_events(landmark: str, counts: TargetCounts) -> None:
    minimum = load_training_config().evaluation.min_events
    if counts.events < minimum or counts.eligible - counts.events < minimum:
        raise TrainingError(
            f"landmark {landmark}: {counts.events} events among {counts.eligible} eligible patients; at "
            "least "
            f"{minimum} events and {minimum} event-free patients are needed to train"
        )
