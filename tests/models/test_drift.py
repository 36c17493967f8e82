"""models/drift.py: a batch compared with the reference profile (flags, the flag rule, units)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from features.catalogue import load_catalogue
from models.drift import FLAG_RULE, ProfileError, compare_to_profile, verdict
from models.drift_profile import build_reference_profile
from synth.frames import random_feature_frame

LANDMARK = "preinfusion"


@pytest.fixture(scope="module")
def specs():
    return load_catalogue().feature_specs(LANDMARK)


@pytest.fixture(scope="module")
def reference(specs):
    frame, _ = random_feature_frame(3000, LANDMARK, seed=1)
    scores = np.random.default_rng(1).beta(2, 3, 1500)
    return build_reference_profile(frame, specs, scores)


def batch(n: int = 2000, seed: int = 2) -> pd.DataFrame:
    return random_feature_frame(n, LANDMARK, seed=seed)[0]


def test_same_population_flags_nothing(reference):
    result = compare_to_profile(reference, batch(), np.random.default_rng(2).beta(2, 3, 2000))
    assert result["summary"]["n_flagged"] == 0, [f for f in result["features"] if f["flagged"]]
    assert not result["score"]["flagged"]
    assert max(f["psi"] for f in result["features"]) < FLAG_RULE["psi_moderate"]


def test_result_has_the_documented_shape_ranked_by_drift(reference):
    shifted = batch().assign(age=lambda f: f["age"] + 20)
    result = compare_to_profile(reference, shifted)
    json.dumps(result, allow_nan=False)
    first = result["features"][0]
    assert {"name", "psi", "p_value", "missing_change", "flagged"} <= set(first) and first["name"] == "age"
    assert [f["rank"] for f in result["features"]] == list(range(1, len(result["features"]) + 1))
    assert result["score"] is None and result["summary"]["flagged"] == ["age"]


@pytest.mark.parametrize(("factor", "expected"), [(10.0, 10), (1000.0, 1000), (0.01, -100)])
def test_one_centre_in_other_units_is_a_unit_suspect_there(reference, factor, expected):
    shifted = batch()
    at_c02 = shifted["center"] == "C02"
    shifted.loc[at_c02, "crp_preld"] *= factor
    result = compare_to_profile(reference, shifted)
    assert result["summary"]["flagged"] == ["crp_preld"]
    suspects = result["features"][0]["unit_suspect"]
    assert [(s["centre"], s["factor"]) for s in suspects] == [("C02", expected)]


def test_whole_batch_in_other_units_is_flagged_pooled(reference):
    result = compare_to_profile(reference, batch().assign(albumin_preld=lambda f: f["albumin_preld"] * 10))
    suspects = {s["centre"] for s in result["features"][0]["unit_suspect"]}
    assert result["summary"]["flagged"] == ["albumin_preld"] and "all" in suspects


def test_a_missing_modality_flags_exactly_its_features(reference, specs):
    imaging = [s.name for s in specs if s.modality == "imaging"]
    result = compare_to_profile(reference, batch().assign(**dict.fromkeys(imaging, np.nan)))
    assert sorted(result["summary"]["flagged"]) == sorted(imaging)
    assert all(f["missing_change"] > 0.7 and f["p_value"] is None for f in result["features"] if f["flagged"])


def test_new_category_level_and_bool_shift_use_chi_square(reference):
    shifted = batch()
    shifted.loc[: len(shifted) // 2, "product"] = "new-cel"
    shifted["primary_refractory_apheresis"] = 1.0
    result = {f["name"]: f for f in compare_to_profile(reference, shifted)["features"]}
    assert (
        result["product"]["test"] == "chi2"
        and result["product"]["flagged"]
        and "new-cel" in result["product"]["bins"]["labels"]
    )
    assert (
        result["primary_refractory_apheresis"]["flagged"]
        and result["primary_refractory_apheresis"]["p_value"] < 1e-10
    )


def test_missing_columns_and_wrong_format_are_clear_errors(reference):
    with pytest.raises(ProfileError, match="crp_preld"):
        compare_to_profile(reference, batch().drop(columns=["crp_preld"]))
    with pytest.raises(ProfileError, match="format"):
        compare_to_profile({**reference, "format": "other/9"}, batch())


@pytest.mark.parametrize(
    ("psi_value", "p", "missing", "flagged"),
    [
        (0.30, 0.005, 0.0, True),
        (0.30, 0.02, 0.0, False),
        (0.12, 0.0005, 0.0, True),
        (0.12, 0.002, 0.0, False),
        (0.05, 1e-9, 0.0, False),
        (0.0, None, 0.25, True),
        (0.0, None, -0.21, True),
        (0.0, None, 0.15, False),
    ],
)
def test_flag_rule(psi_value, p, missing, flagged):
    assert verdict(psi_value, [p], missing, [])[0] is flagged
