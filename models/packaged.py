"""The MLflow pyfunc wrapper around :class:`RelapsePredictor` (logged as models-from-code).

It imports nothing from ``training``; the model's own copy of ``models/`` and ``features/`` is
bundled with it (``code_paths``), so a registered version keeps working as the repo moves on.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from mlflow.pyfunc.model import PythonModel

from .predictor import RelapsePredictor


class PackagedRelapseModel(PythonModel):
    """Input: the landmark's feature columns by catalogue name (missing allowed).

    Output, per row: ``risk_90d``, ``risk_180d``, ``risk_365d``, ``risk_730d`` (absolute risk of
    progression/relapse or death by that many days after the landmark), ``relapse_probability``
    (= ``risk_365d``), ``risk_group``, ``margin`` (log relative hazard), ``base_value`` and one
    ``contrib__<feature>`` per feature (TreeSHAP on the margin: ``base_value + sum == margin``).
    """

    predictor: RelapsePredictor | None = None

    def load_context(self, context: Any) -> None:
        """Load the booster and its metadata from the model's artifacts (once per process)."""
        self.predictor = RelapsePredictor.load(context.artifacts["booster"], context.artifacts["metadata"])

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        """Score a feature frame: the :func:`models.predictor.output_columns`, one row per input row."""
        if self.predictor is None:
            raise RuntimeError("model context not loaded")
        return self.predictor.predict_frame(pd.DataFrame(model_input))
