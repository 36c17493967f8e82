"""Day-30 signal check on the demo registry (seed 7, 5,000 patients), through ingest and the frame."""

from __future__ import annotations

import pandas as pd
import pytest

from features.catalogue import load_catalogue
from synth import generate_registry
from synth.landmark_labels import landmark_labels
from synth.signal import (
    ORIENTATION,
    REFERENCE_MARKERS,
    cohort_summary,
    day30_frame,
    day30_markers,
    marker_signal,
)


def test_every_day30_marker_has_a_declared_orientation() -> None:
    markers = day30_markers(load_catalogue())
    assert {"ldh_day30", "deauville_day30", "ctdna_day30", "car_peak_early", "ctdna_detected_day30"} <= set(
        markers
    )
    assert not {"ldh_preld", "ipi", "age"} & set(markers)
    assert set(markers) | set(REFERENCE_MARKERS) <= set(ORIENTATION)


def test_marker_signal_rejects_a_marker_without_orientation() -> None:
    with pytest.raises(KeyError, match="no orientation"):
        marker_signal(
            pd.DataFrame({"patient_id": []}), pd.DataFrame(columns=["label", "time", "event"]), ["mystery"]
        )


@pytest.mark.slow
def test_day30_ldh_is_weaker_than_deauville_on_the_demo_registry() -> None:
    tables = generate_registry(5000, seed=7)
    frame = day30_frame(tables)
    labels = landmark_labels(tables, landmark_day=30)
    result = marker_signal(frame, labels, day30_markers(load_catalogue())).set_index("marker")
    assert result.loc["ldh_day30", "auroc"] <= 0.65
    assert result.loc["ldh_day30", "auroc"] < result.loc["deauville_day30", "auroc"]
    assert (result["n_auroc"] > 100).all()
    summary = cohort_summary(tables, frame)
    assert summary["day-30 cohort (frame rows)"] == len(frame)
    assert 0.0 < summary["  of which lost to follow-up"] < summary["censored before 12 mo (infused)"]
