"""training/model_card.py: the TRIPOD+AI model card of a trained landmark.

Rendered from the 600-patient session result (``tiny_result``, about 35 s, hence ``slow``).
"""

from __future__ import annotations

import re

import pytest

from models.predictor import SYNTHETIC_NOTICE
from training.gate import GateDecision
from training.model_card import render_model_card

pytestmark = pytest.mark.slow

SECTIONS = [
    "# Model card: cart-relapse-preinfusion v3 (TRIPOD+AI 1)",
    "## Summary (TRIPOD+AI 2)",
    "## Background and objectives (TRIPOD+AI 3a, 3b, 3c, 4)",
    "## Methods",
    "## Results",
    "## Discussion",
]


@pytest.fixture(scope="module")
def card(tiny_result) -> str:
    return render_model_card(tiny_result, model_name="cart-relapse-preinfusion", version="3", gate=None)


def test_the_sections_are_present_in_order(card):
    positions = [card.index(section) for section in SECTIONS]
    assert positions == sorted(positions) and card.startswith(SECTIONS[0])
    assert "## Registry decision" not in card


def test_the_card_says_the_training_data_are_synthetic(card):
    assert (
        card.splitlines()[2] == f"> **{SYNTHETIC_NOTICE}** Every number below describes synthetic patients."
    )
    assert "Trained and evaluated on synthetic data only: performance on real patients is unknown." in card


def test_numbers_come_from_the_training_result(card, tiny_result):
    counts = tiny_result.data.counts
    assert f"for {counts.eligible:,} eligible patients" in card
    held_out = tiny_result.winner_holdout
    assert f"Held-out Uno's C at 365 days {held_out['uno_c_365']:.3f} [" in card
    assert f"Winner `{tiny_result.winner}`" in card
    assert f"Training frame fingerprint `{tiny_result.data.fingerprint}`" in card
    assert f"{int(tiny_result.data.holdout.sum()):,} patients" in card
    for candidate in tiny_result.candidates:
        assert f"`{candidate.name}` ({candidate.description})" in card


def test_every_table_is_well_formed_markdown(card):
    tables = [block for block in card.split("\n\n") if block.startswith("| ")]
    assert len(tables) >= 10
    for table in tables:
        lines = table.splitlines()
        assert re.fullmatch(r"\|(---\|)+", lines[1])
        columns = lines[1].count("---")
        assert all(line.count(" | ") == columns - 1 for line in lines[:1] + lines[2:]), table[:200]


def test_the_gate_decision_is_appended_when_given(tiny_result):
    gate = GateDecision(False, ["held-out difference inside the noise", "lower bound not above zero"])
    card = render_model_card(tiny_result, model_name="cart-relapse-preinfusion", version=None, gate=gate)
    assert card.startswith("# Model card: cart-relapse-preinfusion (TRIPOD+AI 1)")
    assert card.rstrip().endswith(
        "## Registry decision (champion gate)\n\n"
        "keep current champion: held-out difference inside the noise; lower bound not above zero"
    )
