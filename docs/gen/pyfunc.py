"""The packaged model's output columns (MLflow pyfunc), per landmark.

The columns are read from the code (``models.predictor.output_columns``: the risk columns for the
horizons, the fixed outputs, then ``contrib__<feature>`` per model input of the landmark in the
catalogue); this module only adds what each column means, and fails if a column has no meaning here.
"""

from __future__ import annotations

from features.catalogue import Catalogue, load_catalogue
from models.predictor import CONTRIB_PREFIX, HORIZONS_DAYS, output_columns

from .markdown import code, notice, page, table

MEANINGS = {
    "relapse_probability": ("float in [0, 1]", "equal to `risk_365d` (the 12-month risk)"),
    "risk_group": (
        "`low`, `intermediate` or `high`",
        "by fixed absolute thresholds on the 365-day risk "
        "(low < 0.30 <= intermediate < 0.60 <= high, `training/config.yaml`)",
    ),
    "margin": ("float", "log relative hazard: the quantity the explanation decomposes; higher = higher risk"),
    "base_value": ("float", "the explanation's starting point: `margin` minus the sum of the contributions"),
}
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
        notice(
            script="docs/gen/pyfunc.py", source="models.predictor.output_columns and features/catalogue.yaml"
        ),
        INTRO,
        "## Columns",
        table(["column", "type", "meaning"], fixed_columns()),
        INVARIANTS,
        "## Contribution columns per landmark",
        *(_contributions(catalogue, landmark) for landmark in catalogue.landmarks),
    )


def fixed_columns() -> list[tuple[str, str, str]]:
    """The output columns before the per-feature contributions, in output order, with their meaning.

    Raises:
        KeyError: the code declares an output column this page does not explain.
    """
    rows = []
    for column in output_columns((), HORIZONS_DAYS):
        if column.startswith("risk_") and column.endswith("d"):
            days = column.removeprefix("risk_").removesuffix("d")
            rows.append(
                (
                    code(column),
                    "float in [0, 1]",
                    f"probability of progression/relapse or death within {days} days of the landmark",
                )
            )
        else:
            kind, meaning = MEANINGS[column]
            rows.append((code(column), kind, meaning))
    rows.append(
        (
            code(CONTRIB_PREFIX + "<feature>"),
            "float",
            "one column per model input: that feature's additive share of `margin`",
        )
    )
    return rows


def _contributions(catalogue: Catalogue, landmark: str) -> str:
    names = catalogue.feature_names(landmark)
    columns = ", ".join(code(CONTRIB_PREFIX + name) for name in names)
    return f"### `{landmark}`\n\n{len(names)} columns: {columns}."
