"""The champion alias moves only when the held-out Uno's C gain is clear of bootstrap noise (or forced)."""

from training.gate import Comparison, champion_gate


def comparison(delta: float, low: float, high: float) -> Comparison:
    return Comparison(
        challenger=0.70 + delta,
        champion=0.70,
        delta=delta,
        low=low,
        high=high,
        champion_version="3",
        resamples=500,
    )


def test_no_champion_promotes():
    assert champion_gate(None).promote


def test_lower_bound_above_zero_promotes_and_says_why():
    decision = champion_gate(comparison(0.02, 0.004, 0.035))
    assert decision.promote and "lower bound above zero" in decision.summary() and "v3" in decision.summary()


def test_a_gain_inside_the_noise_keeps_the_champion():
    decision = champion_gate(comparison(0.01, -0.002, 0.02))
    assert not decision.promote and "not above zero" in decision.summary()


def test_a_worse_challenger_keeps_the_champion():
    assert not champion_gate(comparison(-0.02, -0.03, -0.01)).promote


def test_force_overrides_and_says_so():
    decision = champion_gate(comparison(-0.05, -0.07, -0.03), force=True)
    assert decision.promote and decision.reasons[-1] == "forced by --promote"
