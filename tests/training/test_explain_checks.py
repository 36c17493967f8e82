"""training/explain_checks.py: do SHAP contributions point the way the literature says?"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.explain import Explanation
from training.explain_checks import shap_direction_checks

N = 200


def _explanation(columns: dict[str, np.ndarray]) -> Explanation:
    names = tuple(columns)
    contributions = np.column_stack([columns[n] for n in names])
    return Explanation(np.zeros(len(contributions)), contributions, names)


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "ldh_uln_ratio": rng.uniform(0.5, 4, N),
            "ecog_preld": rng.integers(0, 3, N).astype(float),
            "product": rng.choice(["axi-cel", "tisa-cel", "liso-cel"], N),
        }
    )


def test_agreeing_and_disagreeing_directions_are_reported(frame):
    explanation = _explanation(
        {
            "ldh_uln_ratio": 0.3 * frame["ldh_uln_ratio"].to_numpy(),  # higher LDH, higher risk: agrees
            "ecog_preld": -0.2 * frame["ecog_preld"].to_numpy(),  # higher ECOG, lower risk: disagrees
        }
    )
    table = shap_direction_checks(frame, explanation).set_index("check")
    assert list(table.index) == ["higher LDH", "higher ECOG"]
    assert table.loc["higher LDH", "ok"] and table.loc["higher LDH", "spearman"] == pytest.approx(1.0)
    assert not table.loc["higher ECOG", "ok"] and table.loc["higher ECOG", "spearman"] == pytest.approx(-1.0)
    assert (table["n"] == N).all() and (table["note"] == "").all()


def test_contributions_of_every_feature_carrying_the_biomarker_are_summed(frame):
    ldh = frame["ldh_uln_ratio"].to_numpy()
    explanation = _explanation({"ldh_preld": 2 * ldh, "ldh_uln_ratio": -1.5 * ldh})  # net +0.5 per unit
    table = shap_direction_checks(frame, explanation)
    assert table.loc[0, "check"] == "higher LDH" and table.loc[0, "ok"]


def test_a_biomarker_the_model_ignores_is_not_ok_and_says_so(frame):
    explanation = _explanation({"ecog_preld": np.zeros(N)})
    row = shap_direction_checks(frame, explanation).iloc[0]
    assert row["check"] == "higher ECOG" and not row["ok"] and np.isnan(row["spearman"])
    assert row["note"] == "not used by the model"


def test_the_product_check_compares_tisa_cel_with_axi_cel_only(frame):
    tisa = (frame["product"] == "tisa-cel").to_numpy(float)
    liso = (frame["product"] == "liso-cel").to_numpy(float)
    explanation = _explanation({"product": 0.4 * tisa - 5 * liso})  # liso-cel is left out of the comparison
    row = shap_direction_checks(frame, explanation).iloc[0]
    assert row["check"] == "tisa-cel (vs axi-cel)" and row["ok"]
    assert row["n"] == int(frame["product"].isin(["axi-cel", "tisa-cel"]).sum())


def test_too_few_known_values_constant_biomarkers_and_absent_columns_are_skipped(frame):
    sparse = frame.assign(ldh_uln_ratio=np.where(np.arange(N) < 20, frame["ldh_uln_ratio"], np.nan))
    explanation = _explanation({"ldh_uln_ratio": np.arange(N, dtype=float)})
    assert shap_direction_checks(sparse, explanation, min_rows=30).empty
    assert len(shap_direction_checks(sparse, explanation, min_rows=10)) == 1
    assert shap_direction_checks(frame.assign(ldh_uln_ratio=2.0), explanation).empty
    assert shap_direction_checks(frame.drop(columns="ldh_uln_ratio"), explanation).empty


def test_no_applicable_check_gives_an_empty_table_with_the_columns():
    table = shap_direction_checks(pd.DataFrame({"age": [60.0]}), _explanation({"age": np.ones(1)}))
    assert table.empty and list(table.columns) == ["check", "n", "spearman", "ok", "note"]
