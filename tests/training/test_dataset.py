"""training/dataset.py: a landmark's training data from the store, the stable holdout, the fingerprint."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.store import open_store
from training.config import load_training_config
from training.dataset import TrainingError, frame_fingerprint, holdout_mask, load_training_data


@pytest.fixture(scope="module")
def data(tiny_store):
    return load_training_data(tiny_store, "preinfusion")


def test_features_and_targets_cover_the_same_eligible_patients(data):
    assert data.frame.index.equals(data.targets.index) and data.frame.index.name == "patient_id"
    assert data.frame.index.is_unique and len(data.frame) == data.counts.eligible
    assert (data.targets["time"] > 0).all() and set(data.targets["status"]) == {"eligible"}
    assert int(data.targets["event"].sum()) == data.counts.events
    assert data.landmark == "preinfusion" and data.landmark_day == 0


def test_the_holdout_is_the_configured_share_and_the_development_set_the_rest(data):
    assert data.holdout.dtype == bool and len(data.holdout) == len(data.frame)
    assert data.holdout.mean() == pytest.approx(load_training_config().evaluation.holdout_fraction, abs=0.06)
    np.testing.assert_array_equal(data.development, ~data.holdout)
    y = data.y(data.holdout)
    assert len(y) == data.holdout.sum() and y.dtype.names == ("event", "time")
    assert len(data.y()) == len(data.frame)


def test_holdout_is_stable_per_patient_whatever_the_order_or_company():
    ids = pd.Index([f"P{i:05d}" for i in range(2000)])
    mask = holdout_mask(ids, 0.2)
    reversed_mask = holdout_mask(ids[::-1], 0.2)[::-1]
    np.testing.assert_array_equal(mask, reversed_mask)
    np.testing.assert_array_equal(holdout_mask(ids[:100], 0.2), mask[:100])
    assert 0.17 < mask.mean() < 0.23
    assert not holdout_mask(ids, 0.0).any() and holdout_mask(ids, 1.0).all()


def test_the_fingerprint_changes_with_any_value_or_column_name(data):
    frame = data.frame.iloc[:50]
    print_ = frame_fingerprint(frame)
    assert print_ == frame_fingerprint(frame.copy()) and len(print_) == 16
    changed = frame.copy()
    changed.iloc[0, changed.columns.get_loc("age")] += 1
    assert frame_fingerprint(changed) != print_
    assert frame_fingerprint(frame.rename(columns={"age": "age_years"})) != print_
    assert frame_fingerprint(frame.iloc[1:]) != print_


def test_an_unknown_landmark_is_refused_naming_the_choices(tiny_store):
    with pytest.raises(
        TrainingError, match=r"unknown landmark 'day99'; expected one of \['day30', 'preinfusion'\]"
    ):
        load_training_data(tiny_store, "day99")


def test_an_empty_store_is_refused(tmp_path):
    open_store(tmp_path / "empty.duckdb").close()
    with pytest.raises(TrainingError, match="no eligible patients or no outcomes"):
        load_training_data(tmp_path / "empty.duckdb", "preinfusion")


def test_too_few_events_is_refused_with_the_counts(tmp_path):
    from features.ingest import ingest_directory
    from synth import generate_registry, write_registry

    write_registry(generate_registry(n_patients=40, seed=1), tmp_path / "raw")
    ingest_directory(tmp_path / "raw", store=tmp_path / "store.duckdb")
    with pytest.raises(TrainingError, match=r"landmark preinfusion: \d+ events among \d+ eligible patients"):
        load_training_data(tmp_path / "store.duckdb", "preinfusion")
