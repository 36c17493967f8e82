"""training/config.yaml is validated: unknown keys and inconsistent values are refused."""

from __future__ import annotations

import pytest
import yaml
from pydantic import ValidationError

from training.config import CONFIG_PATH, load_training_config


def test_the_packaged_config_loads_with_the_contract_horizons():
    config = load_training_config()
    assert config.horizons_days == (90, 180, 365, 730)
    assert config.risk_groups.horizon_days == 365 and 0 < config.risk_groups.low < config.risk_groups.high < 1
    assert set(config.horizons_days) <= set(config.evaluation_times())
    assert (
        config.evaluation.net_benefit_thresholds.values()[0] == 0.1
        and config.evaluation.net_benefit_thresholds.values()[-1] == 0.9
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c["risk_groups"].update(low=0.7), "0 < low < high < 1"),
        (lambda c: c["risk_groups"].update(horizon_days=400), "one of horizons_days"),
        (lambda c: c.update(horizons_days=[365, 90]), "strictly increasing"),
        (lambda c: c["evaluation"].update(bootstrap_resamples=5), "greater than or equal to 20"),
        (lambda c: c.update(surprise=1), "Extra inputs are not permitted"),
    ],
)
def test_bad_configs_are_refused_with_the_reason(tmp_path, change, message):
    raw = yaml.safe_load(CONFIG_PATH.read_text())
    change(raw)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ValidationError, match=message):
        load_training_config(path)
