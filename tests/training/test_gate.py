"""The champion alias moves only when the challenger is better on both counts (or is forced)."""

from training.gate import champion_gate


def test_no_champion_promotes():
    assert champion_gate({"auroc": 0.6, "cal_slope": 1.5}, None).promote


def test_better_auroc_and_calibration_promotes():
    decision = champion_gate({"auroc": 0.75, "cal_slope": 0.95}, {"auroc": 0.72, "cal_slope": 0.9})
    assert decision.promote and "higher" in decision.reasons[0]


def test_lower_auroc_keeps_champion():
    decision = champion_gate({"auroc": 0.70, "cal_slope": 1.0}, {"auroc": 0.72, "cal_slope": 0.9})
    assert not decision.promote and "not higher" in decision.reasons[0]


def test_better_auroc_but_worse_calibration_keeps_champion():
    decision = champion_gate({"auroc": 0.80, "cal_slope": 1.4}, {"auroc": 0.72, "cal_slope": 1.05})
    assert not decision.promote and "worse" in decision.reasons[1]


def test_equal_auroc_is_not_an_improvement():
    assert not champion_gate({"auroc": 0.72, "cal_slope": 1.0}, {"auroc": 0.72, "cal_slope": 1.0}).promote


def test_force_overrides_and_says_so():
    decision = champion_gate({"auroc": 0.5, "cal_slope": 3.0}, {"auroc": 0.9, "cal_slope": 1.0}, force=True)
    assert decision.promote and decision.reasons == ["forced by --promote"]
