"""Published scores on hand-computed cases (definitions: evidence.md section 3)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from features.catalogue import load_catalogue
from features.derived import _DERIVATIONS, add_derived_features

NAN = float("nan")


def make_frame(landmark: str = "day30", **values: object) -> pd.DataFrame:
    """One patient with every window column of ``landmark`` missing except ``values``."""
    catalogue = load_catalogue()
    row: dict[str, object] = {spec.name: NAN for spec in catalogue.window_features(landmark)}
    row.update(age=NAN, sex=None, product=None, ldh_preld__uln=NAN, ldh_apheresis__uln=NAN)
    row.update(infusion_date=pd.Timestamp("2024-03-01"), apheresis_date=pd.Timestamp("2024-01-25"))
    row.update(values)
    return pd.DataFrame([row])


def derive(landmark: str = "day30", **values: object) -> pd.Series:
    return add_derived_features(make_frame(landmark, **values), landmark).iloc[0]


# A 66-year-old, LDH 500 with ULN 250 (ratio 2), ECOG 2, stage IV, 2 extranodal sites.
HIGH_RISK = {
    "age": 66.0,
    "ldh_preld": 500.0,
    "ldh_preld__uln": 250.0,
    "ecog_preld": 2.0,
    "stage_apheresis": 4.0,
    "extranodal_sites_apheresis": 2.0,
}


def test_every_catalogue_derived_feature_has_a_derivation():
    assert {d.name for d in load_catalogue().derived} == set(_DERIVATIONS)


def test_ipi_all_five_factors():
    row = derive(**HIGH_RISK)
    assert row["ldh_uln_ratio"] == 2.0
    assert row["ipi"] == 5 and row["aaipi"] == 3


@pytest.mark.parametrize(
    ("change", "ipi", "aaipi"),
    [
        ({"age": 60.0}, 4, 3),  # age >60 is strict
        ({"ldh_preld": 250.0}, 4, 2),  # LDH equal to ULN is not raised
        ({"ecog_preld": 1.0}, 4, 2),
        ({"stage_apheresis": 2.0}, 4, 2),
        ({"extranodal_sites_apheresis": 1.0}, 4, 3),  # "more than one" site
        (
            {
                "age": 45.0,
                "ldh_preld": 200.0,
                "ecog_preld": 0.0,
                "stage_apheresis": 1.0,
                "extranodal_sites_apheresis": 0.0,
            },
            0,
            0,
        ),
    ],
)
def test_ipi_factor_boundaries(change, ipi, aaipi):
    row = derive(**{**HIGH_RISK, **change})
    assert (row["ipi"], row["aaipi"]) == (ipi, aaipi)


def test_ldh_ratio_uses_the_centre_uln_then_default_then_apheresis():
    assert derive(ldh_preld=300.0, ldh_preld__uln=300.0)["ldh_uln_ratio"] == 1.0
    assert derive(ldh_preld=300.0)["ldh_uln_ratio"] == 300.0 / 250.0  # catalogue default ULN
    assert derive(ldh_apheresis=450.0, ldh_apheresis__uln=225.0)["ldh_uln_ratio"] == 2.0


def test_ipi_missing_component_is_missing_not_normal():
    row = derive(**{**HIGH_RISK, "stage_apheresis": NAN})
    assert math.isnan(row["ipi"]) and math.isnan(row["aaipi"])


def test_ecog_falls_back_to_apheresis():
    row = derive(**{**HIGH_RISK, "ecog_preld": NAN, "ecog_apheresis": 3.0})
    assert row["ipi"] == 5


@pytest.mark.parametrize(
    ("platelets", "anc", "hb", "crp", "ferritin", "expected"),
    [
        (200.0, 2.0, 12.0, 1.0, 300.0, 0),  # all normal
        (50.0, 0.8, 8.5, 4.0, 2500.0, 7),  # maximum
        (175.0, 1.2, 9.0, 3.0, 650.0, 2),  # boundaries: plt 175 -> 1, ferritin 650 -> 1
        (75.0, 1.5, 10.0, 2.0, 2000.0, 2),  # plt 75 -> 1, ferritin 2000 -> 1
        (74.9, 1.19, 10.0, 3.01, 100.0, 4),  # plt 2 + ANC 1 + CRP 1
    ],
)
def test_car_hematotox(platelets, anc, hb, crp, ferritin, expected):
    row = derive(
        platelets_preld=platelets, anc_preld=anc, hemoglobin_preld=hb, crp_preld=crp, ferritin_preld=ferritin
    )
    assert row["car_hematotox"] == expected


def test_car_hematotox_missing_input_is_missing():
    row = derive(platelets_preld=200.0, anc_preld=2.0, hemoglobin_preld=12.0, crp_preld=1.0)
    assert math.isnan(row["car_hematotox"])


def test_easix_and_m_easix():
    row = derive(ldh_preld=300.0, creatinine_preld=1.2, crp_preld=2.5, platelets_preld=150.0)
    assert row["easix"] == pytest.approx(300 * 1.2 / 150)  # 2.4
    assert row["m_easix"] == pytest.approx(300 * 2.5 / 150)  # 5.0
    assert math.isnan(derive(ldh_preld=300.0, creatinine_preld=1.2, platelets_preld=0.0)["easix"])


@pytest.mark.parametrize(
    ("exposed", "washout", "expected"),
    [(1.0, 4.0, 1.0), (1.0, 9.0, 0.0), (1.0, 24.0, 0.0), (0.0, NAN, 0.0), (1.0, NAN, NAN), (NAN, NAN, NAN)],
)
def test_bendamustine_recent(exposed, washout, expected):
    row = derive(bendamustine_exposed_apheresis=exposed, bendamustine_washout_apheresis=washout)
    np.testing.assert_equal(row["bendamustine_recent"], expected)


def test_product_vein_to_vein_and_day30_features():
    row = derive(product="axi-cel", ctdna_day30=0.0, car_peak_early=30.0, tmtv_preld=150.0, tmtv_day30=0.0)
    assert row["costim_cd28"] == 1.0
    assert row["vein_to_vein_days"] == 36.0
    assert row["ctdna_detected_day30"] == 0.0
    assert row["car_peak_per_tmtv"] == pytest.approx(0.2)
    assert row["tmtv_change_day30"] == pytest.approx(np.log2(1 / 151))
    assert derive(product="tisa-cel", ctdna_day30=12.0)[["costim_cd28", "ctdna_detected_day30"]].tolist() == [
        0.0,
        1.0,
    ]


def test_landmark_decides_which_derived_features_exist_and_helpers_are_dropped():
    pre = add_derived_features(make_frame("preinfusion"), "preinfusion")
    assert "ctdna_detected_day30" not in pre and "ipi" in pre
    assert not {"ldh_preld__uln", "apheresis_date"} & set(pre.columns)
    assert all(
        pre[d.name].dtype == "float64" for d in load_catalogue().derived if "preinfusion" in d.landmarks
    )


def test_plain_arrays_and_frames_give_the_same_values():
    from features.derived import derive_values
    from synth.frames import random_feature_frame

    frame, _ = random_feature_frame(50, "day30", seed=9)
    frame = frame.assign(
        ldh_preld__uln=230.0,
        ldh_apheresis__uln=float("nan"),
        infusion_date=pd.Timestamp("2024-03-01"),
        apheresis_date=pd.Timestamp("2024-01-20"),
    )
    via_frame = add_derived_features(frame, "day30")
    arrays = {c: frame[c].to_numpy() for c in frame.columns}
    for name, values in derive_values(arrays, "day30").items():
        np.testing.assert_array_equal(values, via_frame[name].to_numpy(), err_msg=name)
    assert via_frame["vein_to_vein_days"].eq(41.0).all()
