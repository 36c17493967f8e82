"""One encoding: validated rows encode exactly as the same values in a feature frame."""

from __future__ import annotations

import math

import numpy as np
import pytest

from features.catalogue import load_catalogue
from models.encode import EncodingError, FeatureEncoder
from synth.frames import random_feature_frame


@pytest.mark.parametrize("landmark", ["preinfusion", "day30"])
def test_rows_and_frames_encode_identically(landmark):
    specs = load_catalogue().feature_specs(landmark)
    frame, _ = random_feature_frame(200, landmark, seed=3, missing=0.3)
    rows = [
        {k: v for k, v in row.items() if v is not None and not (isinstance(v, float) and math.isnan(v))}
        for row in frame[[s.name for s in specs]].to_dict("records")
    ]
    encoder = FeatureEncoder(specs)
    np.testing.assert_array_equal(encoder.encode_rows(rows), encoder.encode_frame(frame))


def test_an_unknown_level_is_refused_by_both_paths():
    specs = load_catalogue().feature_specs("preinfusion")
    encoder = FeatureEncoder(specs)
    frame, _ = random_feature_frame(2, seed=4)
    frame.loc[0, "product"] = "obe-cel"
    with pytest.raises(EncodingError, match="product: unknown level 'obe-cel'"):
        encoder.encode_frame(frame)
    with pytest.raises(EncodingError, match="product: unknown level 'obe-cel'"):
        encoder.encode_rows([{"product": "obe-cel"}])
