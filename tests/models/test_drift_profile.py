"""models/drift_profile.py: the reference profile of the training features and scores."""

from __future__ import annotations

import json

import numpy as np
import pytest

from features.catalogue import load_catalogue
from models.drift_profile import build_reference_profile
from synth.frames import random_feature_frame

LANDMARK = "preinfusion"


@pytest.fixture(scope="module")
def specs():
    return load_catalogue().feature_specs(LANDMARK)


@pytest.fixture(scope="module")
def reference(specs):
    frame, _ = random_feature_frame(3000, LANDMARK, seed=1)
    return build_reference_profile(frame, specs, np.random.default_rng(1).beta(2, 3, 1500))


def test_profile_is_plain_json_and_deterministic(specs, reference):
    frame, _ = random_feature_frame(3000, LANDMARK, seed=1)
    again = build_reference_profile(frame, specs, np.random.default_rng(1).beta(2, 3, 1500))
    text = json.dumps(reference, allow_nan=False)
    assert json.dumps(again, allow_nan=False) == text
    ldh = reference["features"]["ldh_preld"]
    assert ldh["kind"] == "numeric" and len(ldh["counts"]) == len(ldh["edges"]) + 1
    assert sum(ldh["counts"]) + ldh["n_missing"] == 3000 and len(ldh["sample"]) == 2000
    assert set(ldh["unit_check"]) >= {"all", "C01", "C02", "C03", "C04"}
    assert reference["features"]["sex"]["levels"] == ["F", "M"]
    assert reference["features"]["primary_refractory_apheresis"]["levels"] == ["false", "true"]


def test_point_mass_collapses_into_one_bin(specs):
    frame, _ = random_feature_frame(1000, LANDMARK, seed=3, missing=0.0)
    frame["ctdna_preld"] = np.where(np.arange(1000) < 450, 0.0, frame["ctdna_preld"])  # 45% undetectable
    profile = build_reference_profile(frame, specs, np.full(10, 0.5))["features"]["ctdna_preld"]
    assert profile["edges"][0] == 0.0 and profile["edges"][1] > 0 and profile["counts"][0] == 450
    assert len(profile["edges"]) == len(set(profile["edges"]))
