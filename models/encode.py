"""Turn feature values into the numeric matrix the estimators see, by the catalogue's specs.

One encoding for every caller: training and batch scoring pass feature frames
(:meth:`FeatureEncoder.encode_frame`), the API passes validated rows (:meth:`FeatureEncoder.encode_rows`).
Numbers pass through as float; a category becomes the index of its level in the catalogue's level
list (so codes are stable across training, the pyfunc and the API); missing stays NaN.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from features.catalogue import FeatureSpec

Value = float | str
"""A canonical value: float for numbers, integers and flags (0.0/1.0), the level for a category."""


class EncodingError(ValueError):
    """A value the model cannot take (names the column and the value)."""


class FeatureEncoder:
    """The column order and category codes of one model's features, computed once.

    Args:
        specs: the model's feature specs, in model order.
    """

    def __init__(self, specs: Sequence[FeatureSpec]) -> None:
        self.specs = tuple(specs)
        self.names = tuple(spec.name for spec in self.specs)
        self.level_codes = {
            s.name: {level: float(i) for i, level in enumerate(s.levels or ())}
            for s in self.specs
            if s.type == "category"
        }

    def encode_frame(self, frame: pd.DataFrame) -> np.ndarray:
        """Encode a feature frame; extra columns are ignored, absent feature columns are all-missing.

        Returns:
            float32 array of shape (len(frame), len(specs)), NaN for missing values.

        Raises:
            EncodingError: a category level not in the catalogue, or a non-numeric value.
        """
        out = np.full((len(frame), len(self.specs)), np.nan, dtype=np.float32)
        for j, spec in enumerate(self.specs):
            if spec.name in frame.columns:
                out[:, j] = self._encode_column(frame[spec.name], spec)
        return out

    def encode_rows(self, rows: Sequence[Mapping[str, Value]]) -> np.ndarray:
        """Encode validated rows as :meth:`encode_frame` would encode the same values.

        Each row maps a feature name to its canonical value; an absent name means missing.

        Raises:
            EncodingError: a category level not in the catalogue.
        """
        out = np.full((len(rows), len(self.specs)), np.nan, dtype=np.float32)
        for j, name in enumerate(self.names):
            codes = self.level_codes.get(name)
            for i, row in enumerate(rows):
                value = row.get(name)
                if value is not None:
                    out[i, j] = self._code(name, codes, value) if codes is not None else value
        return out

    def _code(self, name: str, codes: dict[str, float], value: Value) -> float:
        code = codes.get(value) if isinstance(value, str) else None
        if code is None:
            raise EncodingError(f"{name}: unknown level {value!r}; expected one of {list(codes)}")
        return code

    def _encode_column(self, column: pd.Series, spec: FeatureSpec) -> np.ndarray:
        if spec.type == "category":
            codes = pd.Categorical(column, categories=list(spec.levels or ())).codes.astype(np.float32)
            unknown = (codes < 0) & column.notna().to_numpy()
            if unknown.any():
                bad = column[unknown].iloc[0]
                raise EncodingError(
                    f"{spec.name}: unknown level {bad!r}; expected one of {list(spec.levels or ())}"
                )
            codes[codes < 0] = np.nan
            return codes
        try:
            return pd.to_numeric(column, errors="raise").to_numpy(dtype=np.float32, na_value=np.nan)
        except (TypeError, ValueError) as exc:
            raise EncodingError(f"{spec.name}: expected a number ({exc})") from None


def encode_features(frame: pd.DataFrame, specs: Sequence[FeatureSpec]) -> np.ndarray:
    """:meth:`FeatureEncoder.encode_frame` for a one-off encoding (training, plots)."""
    return FeatureEncoder(specs).encode_frame(frame)
