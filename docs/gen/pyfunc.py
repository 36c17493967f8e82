"""The packaged model's output columns (MLflow pyfunc), per landmark.

The fixed columns are the output contract of issue 8 as the lead engineer stated it; they are typed
here, not read from code, until ``models/`` implements that contract (review then). The
``contrib__<feature>`` columns are read from the code: ``models.predictor.CONTRIB_PREFIX`` and one per
model input of the landmark in the catalogue.
"""

from __future__ import annotations

from features.catalogue import Catalogue, load_catalogue
from models.predictor import CONTRIB_PREFIX

from .markdown import code, notice, page, table

HORIZONS_DAYS = (90, 180, 365, 730)
REVIEW_NOTE = """\
!!! warning "Review when the issue 8 contract lands in `models/`"
    The fixed columns below are written from the contract agreed for issue 8, not read from the
    code: the packaged model in this revision (`models/predictor.py`) still returns
    `relapse_probability`, `risk_group`, `base_value` and the `contrib__` columns only. Once
    `models/` implements the contract, generate this table from the model's declared output
    columns instead."""
INTRO = """\
`mlflow.pyfunc.load_model(uri).predict(frame)` takes a landmark's feature frame (one row per
patient, columns named as in the [catalogue](catalogue.md#model-inputs-per-landmark), missing values
allowed) and returns one row per input row with the columns below. The prediction target is
defined in the [evidence document](../evidence.md#5-prediction-target-and-landmarks):
progression/relapse or death from any cause, with the clock starting at the landmark."""
INVARIANTS = """\
Guarantees, per row:

- every `risk_*` lies in [0, 1] and is non-decreasing in the horizon
  (`risk_90d <= risk_180d <= risk_365d <= risk_730d`);
- every `risk_*` is a non-decreasing function of `margin`;
- `relapse_probability == risk_365d`;
- `base_value + sum(contrib__*) == margin` within 1e-5."""


def render_pyfunc(catalogue: Catalogue | None = None) -> str:
    """The pyfunc output page: fixed columns, invariants, and the contribution columns per landmark.

    Args:
        catalogue: the catalogue whose landmarks and features name the ``contrib__`` columns.

    Returns:
        The page as Markdown.
    """
    catalogue = catalogue or load_catalogue()
    return page(
        "# Model outputs (pyfunc)",
        notice(script="docs/gen/pyfunc.py", source="the issue 8 output contract and features/catalogue.yaml"),
        REVIEW_NOTE,
        INTRO,
        "## Columns",
        table(["column", "type", "meaning"], fixed_columns()),
        INVARIANTS,
        "## Contribution columns per landmark",
        *(_contributions(catalogue, landmark) for landmark in catalogue.landmarks),
    )


def fixed_columns() -> list[tuple[str, str, str]]:
    """The contract's columns before the per-feature contributions, in output order."""
    risks = [
        (
            code(f"risk_{days}d"),
            "float in [0, 1]",
            f"probability of progression/relapse or death within {days} days of the landmark",
        )
        for days in HORIZONS_DAYS
    ]
    return [
        *risks,
        (code("relapse_probability"), "float in [0, 1]", "equal to `risk_365d` (the 12-month risk)"),
        (
            code("risk_group"),
            "`low`, `intermediate` or `high`",
            "the risk band the model's thresholds assign",
        ),
        (
            code("margin"),
            "float",
            "log relative hazard: the quantity the explanation decomposes; higher = higher risk",
        ),
        (
            code("base_value"),
            "float",
            "the explanation's starting point: `margin` minus the sum of the contributions",
        ),
        (
            code(CONTRIB_PREFIX + "<feature>"),
            "float",
            "one column per model input: that feature's additive share of `margin`",
        ),
    ]


def _contributions(catalogue: Catalogue, landmark: str) -> str:
    names = catalogue.feature_names(landmark)
    columns = ", ".join(code(CONTRIB_PREFIX + name) for name in names)
    return f"### `{landmark}`\n\n{len(names)} columns: {columns}."
