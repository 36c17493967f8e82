"""The generated registry reproduces the published anchors (large seeded cohort)."""

from __future__ import annotations

import pytest

from synth import generate_registry
from synth.anchors import ANCHORS, compute_anchors


@pytest.mark.slow
def test_every_anchor_lies_in_its_target_range() -> None:
    result = compute_anchors(generate_registry(30_000, seed=1))
    assert list(result["anchor"]) == [a.name for a in ANCHORS]
    failing = result.loc[~result["ok"], ["anchor", "target_low", "target_high", "generated"]]
    assert failing.empty, f"anchors outside their target range:\n{failing.to_string()}"
    hrs = result[result["anchor"].str.startswith("HR")]
    assert (hrs["ci_low"] < hrs["generated"]).all() and (hrs["generated"] < hrs["ci_high"]).all()
