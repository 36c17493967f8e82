"""models/preprocess.py: the linear models' design matrix."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.catalogue import FeatureSpec, load_catalogue
from models.preprocess import SKEWED_ABOVE, make_preprocessor
from synth.frames import random_feature_frame


def _spec(name: str, type_: str, *, range_=None, levels=None) -> FeatureSpec:
    return FeatureSpec(
        name=name,
        source="patient",
        modality="clinical",
        type=type_,
        unit="1",
        range=range_,
        levels=levels,
        description=name,
    )


SPECS = [
    _spec("ldh", "float", range_=(0.0, 10_000.0)),
    _spec("age", "float", range_=(18.0, 95.0)),
    _spec("ecog", "int", range_=(0.0, 4.0)),
    _spec("product", "category", levels=("axi-cel", "tisa-cel", "liso-cel")),
]
TRAIN = pd.DataFrame(
    {
        "ldh": [100.0, 1000.0, np.nan, 10.0, 300.0],
        "age": [40.0, 60.0, 80.0, np.nan, 50.0],
        "ecog": [0.0, 1.0, 2.0, 1.0, np.nan],
        "product": ["axi-cel", "tisa-cel", np.nan, "axi-cel", "tisa-cel"],
        "not_a_feature": [1, 2, 3, 4, 5],
    }
)


@pytest.fixture
def fitted():
    return make_preprocessor(SPECS).fit(TRAIN)


def test_columns_are_routed_by_type_and_range(fitted):
    names = list(fitted.get_feature_names_out())
    assert [n for n in names if n.startswith("log__")] == ["log__ldh", "log__missingindicator_ldh"]
    assert [n for n in names if n.startswith("num__")] == [
        "num__age",
        "num__ecog",
        "num__missingindicator_age",
        "num__missingindicator_ecog",
    ]
    assert [n for n in names if n.startswith("cat__")] == [
        "cat__product_axi-cel",
        "cat__product_missing",
        "cat__product_tisa-cel",
    ]  # one column per level seen in training, "missing" included
    assert not any("not_a_feature" in n for n in names)  # columns outside the specs are dropped
    assert SPECS[0].range[1] > SKEWED_ABOVE > SPECS[1].range[1]


def test_the_matrix_is_dense_finite_and_scaled(fitted):
    X = fitted.transform(TRAIN)
    assert isinstance(X, np.ndarray) and X.shape == (5, 9) and np.isfinite(X).all()
    names = list(fitted.get_feature_names_out())
    for column in ("log__ldh", "num__age", "num__ecog"):
        values = X[:, names.index(column)]
        assert abs(values.mean()) < 1e-9 and values.std() == pytest.approx(1.0)


def test_skewed_values_are_logged_before_scaling_and_negatives_clipped(fitted):
    names = list(fitted.get_feature_names_out())
    probe = TRAIN.iloc[:3].assign(ldh=[-5.0, 0.0, np.e**4 - 1])
    ldh = fitted.transform(probe)[:, names.index("log__ldh")]
    assert ldh[0] == ldh[1]  # a negative value is clipped to 0 before log1p
    scaler = fitted.named_transformers_["log"][-1][-1]
    np.testing.assert_allclose(ldh[2] * scaler.scale_[0] + scaler.mean_[0], 4.0)


def test_missing_values_are_imputed_and_flagged(fitted):
    names = list(fitted.get_feature_names_out())
    X = fitted.transform(TRAIN)
    flagged = X[:, names.index("log__missingindicator_ldh")]  # the indicator is scaled like the value
    assert (flagged > 0).tolist() == [False, False, True, False, False]
    assert X[:, names.index("cat__product_missing")].tolist() == [0, 0, 1, 0, 0]
    imputed_age = X[3, names.index("num__age")]
    median_age = X[np.argsort(TRAIN["age"].to_numpy())[1], names.index("num__age")]  # 50 and 60: median 55
    assert median_age < imputed_age < X[1, names.index("num__age")]


def test_an_unseen_category_encodes_as_no_level(fitted):
    names = list(fitted.get_feature_names_out())
    row = TRAIN.iloc[:1].assign(product="liso-cel")  # in the catalogue, absent from training
    X = fitted.transform(row)
    assert [X[0, names.index(n)] for n in names if n.startswith("cat__")] == [0.0, 0.0, 0.0]


def test_a_feature_missing_for_every_training_patient_keeps_its_column():
    train = TRAIN.assign(age=np.nan)
    X = make_preprocessor(SPECS).fit(train).transform(train)
    assert X.shape == (5, 9) and np.isfinite(X).all()


def test_the_catalogue_features_give_a_finite_matrix():
    specs = load_catalogue().feature_specs("day30")
    frame, _ = random_feature_frame(80, "day30", seed=2, missing=0.3)
    X = make_preprocessor(specs).fit_transform(frame)
    assert X.shape[0] == 80 and np.isfinite(X).all()


def test_none_and_nan_are_the_same_missing_category():
    """The feature store writes a missing category as None (features/frame.py); pandas often gives NaN."""
    with_none = TRAIN.assign(product=["axi-cel", "tisa-cel", None, "axi-cel", None])
    with_nan = TRAIN.assign(product=["axi-cel", "tisa-cel", np.nan, "axi-cel", np.nan])
    fitted = make_preprocessor(SPECS).fit(with_none)
    names = list(fitted.get_feature_names_out())
    assert [n for n in names if n.startswith("cat__")] == [
        "cat__product_axi-cel",
        "cat__product_missing",
        "cat__product_tisa-cel",
    ]
    np.testing.assert_array_equal(fitted.transform(with_nan), fitted.transform(with_none))
