"""The catalogue is the contract other code relies on: names, units, windows, conversions."""

from __future__ import annotations

import pytest
import yaml
from pydantic import ValidationError

from features.catalogue import CATALOGUE_PATH, MODALITIES, load_catalogue

FIXED = {  # names and canonical units fixed by the foundation issue
    "ecog": "",
    "ldh": "U/L",
    "crp": "mg/dL",
    "ferritin": "ng/mL",
    "albumin": "g/dL",
    "platelets": "10^9/L",
    "anc": "10^9/L",
    "hemoglobin": "g/dL",
    "creatinine": "mg/dL",
    "il6": "pg/mL",
    "stage": "",
    "extranodal_sites": "",
    "prior_lines": "",
    "primary_refractory": "",
    "bridging_response": "",
    "tmtv": "mL",
    "suvmax": "SUV",
    "deauville": "",
    "ctdna": "hGE/mL",
    "cd3_count": "cells/uL",
    "car_peak": "cells/uL",
}


def test_fixed_names_and_units():
    catalogue = load_catalogue()
    assert {name: catalogue.biomarker(name).unit for name in FIXED} == FIXED


def test_coverage_of_all_modalities():
    catalogue = load_catalogue()
    assert len(catalogue.biomarkers) >= 35
    assert {b.modality for b in catalogue.biomarkers} == set(MODALITIES)


@pytest.mark.parametrize(
    ("name", "unit", "value", "canonical"),
    [
        ("crp", "mg/L", 25.0, 2.5),
        ("albumin", "g/L", 35.0, 3.5),
        ("hemoglobin", "g/L", 95.0, 9.5),
        ("creatinine", "umol/L", 88.4, 1.0),
        ("platelets", "K/uL", 150.0, 150.0),
        ("ferritin", "ug/L", 700.0, 700.0),
        ("cd3_count", "10^9/L", 0.553, 553.0),
        ("ldh", "U/L", 250.0, 250.0),
    ],
)
def test_alternative_units_convert_to_canonical(name, unit, value, canonical):
    assert value * load_catalogue().biomarker(name).unit_factor(unit) == pytest.approx(canonical, rel=1e-3)


def test_unknown_unit_is_not_accepted():
    assert load_catalogue().biomarker("crp").unit_factor("mmol/L") is None


def test_post_infusion_windows_never_feed_the_preinfusion_landmark():
    catalogue = load_catalogue()
    pre = set(catalogue.feature_names("preinfusion"))
    assert not {f for f in pre if f.endswith(("_early", "_day30"))}
    assert {"deauville_day30", "ctdna_day30", "car_peak_early"} <= set(catalogue.feature_names("day30"))
    for name in catalogue.landmarks:
        day = catalogue.landmarks[name].day
        assert all(catalogue.windows[w].end <= day for w in catalogue.landmarks[name].windows)


def test_feature_names_are_unique_and_well_formed():
    catalogue = load_catalogue()
    for landmark in catalogue.landmarks:
        names = catalogue.feature_names(landmark)
        assert len(names) == len(set(names))
    assert "ldh_preld" in catalogue.feature_names("preinfusion")


def test_a_bad_catalogue_is_rejected_naming_the_entry(tmp_path):
    raw = yaml.safe_load(CATALOGUE_PATH.read_text())
    raw["biomarkers"][0]["windows"] = ["week9"]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ValidationError, match="ecog: unknown windows"):
        load_catalogue(path)
