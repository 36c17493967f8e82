"""Pivot the sorted stream of candidate reports into wide feature columns, one batch at a time.

The stream (``features.pit``) holds one row per candidate report: ``patient_row`` (the patient's
position in the cohort), ``feature_index`` (position in ``Catalogue.window_features``), ``value``,
``value_text`` and ``reference_high``, sorted by patient_row, feature_index and then the choice
order, best report first. The chosen report of a (patient, feature) is therefore the first row of
its run; a run may span two batches, so the last key of a batch is carried to the next.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa

from .catalogue import FeatureSpec

ULN_SUFFIX = "__uln"


class WideColumns:
    """Output columns of one retrieval, filled from record batches of the sorted candidate stream."""

    def __init__(self, rows: int, specs: list[FeatureSpec], uln_features: set[str]) -> None:
        """Allocate the columns: NaN for numbers and ULNs, None for categories.

        Args:
            rows: cohort size (patient_row runs from 0 to rows - 1).
            specs: the landmark's window features, in catalogue order (feature_index order).
            uln_features: names of the features that get a ``<feature>__uln`` column.
        """
        self._specs = specs
        self._uln_names = [s.name for s in specs if s.name in uln_features]
        categories = [i for i, s in enumerate(specs) if s.type == "category"]
        self._number_col = _positions(len(specs), [i for i, s in enumerate(specs) if s.type != "category"])
        self._text_col = _positions(len(specs), categories)
        self._uln_col = _positions(len(specs), [i for i, s in enumerate(specs) if s.name in uln_features])
        self._numbers = np.full((rows, len(specs) - len(categories)), np.nan, order="F")
        self._texts = np.full((rows, len(categories)), None, dtype=object, order="F")
        self._ulns = np.full((rows, len(self._uln_names)), np.nan, order="F")
        self._last_key = -1

    def add(self, batch: pa.RecordBatch) -> None:
        """Write the chosen reports of one batch (the first row of each patient x feature run).

        Args:
            batch: the next record batch of the sorted stream.
        """
        if batch.num_rows == 0:
            return
        patient = batch.column("patient_row").to_numpy().astype(np.int64)
        feature = batch.column("feature_index").to_numpy().astype(np.int64)
        key = patient * len(self._specs) + feature
        first = np.empty(len(key), dtype=bool)
        first[0] = key[0] != self._last_key
        np.not_equal(key[1:], key[:-1], out=first[1:])
        self._last_key = int(key[-1])
        patient, feature = patient[first], feature[first]
        self._scatter(self._numbers, self._number_col, patient, feature, _floats(batch, "value", first))
        self._scatter(self._ulns, self._uln_col, patient, feature, _floats(batch, "reference_high", first))
        text = first.copy()
        text[first] = self._text_col[feature] >= 0  # convert only the chosen category rows to objects
        if text.any():
            rows = self._text_col[feature] >= 0
            self._texts[patient[rows], self._text_col[feature[rows]]] = _texts(batch, "value_text", text)

    def extend(self, batches: Iterable[pa.RecordBatch]) -> WideColumns:
        """``add`` every batch, in order; returns self."""
        for batch in batches:
            self.add(batch)
        return self

    def frame(self, left: pd.DataFrame) -> pd.DataFrame:
        """``left``'s columns, then the window features in catalogue order, then the ULNs.

        Features are float64, or object for categories; the wide columns are copied once (no
        per-column copies).

        Args:
            left: one row per cohort patient, in patient_row order, with a default RangeIndex.
        """
        specs = self._specs
        parts = [
            left,
            pd.DataFrame(self._numbers, columns=[s.name for s in specs if s.type != "category"], copy=False),
            pd.DataFrame(self._texts, columns=[s.name for s in specs if s.type == "category"], copy=False),
            pd.DataFrame(self._ulns, columns=[n + ULN_SUFFIX for n in self._uln_names], copy=False),
        ]
        order = [*left.columns, *(s.name for s in specs), *(n + ULN_SUFFIX for n in self._uln_names)]
        return pd.concat(parts, axis=1, copy=False)[order]

    @staticmethod
    def _scatter(
        target: np.ndarray,
        column_of: np.ndarray,
        patient: np.ndarray,
        feature: np.ndarray,
        values: np.ndarray,
    ) -> None:
        column = column_of[feature]
        keep = column >= 0
        target[patient[keep], column[keep]] = values[keep]


def _positions(size: int, members: list[int]) -> np.ndarray:
    """Feature index -> column in the members' own array (-1 for non-members)."""
    out = np.full(size, -1, dtype=np.int64)
    out[members] = np.arange(len(members))
    return out


def _floats(batch: pa.RecordBatch, name: str, keep: np.ndarray) -> np.ndarray:
    """A DOUBLE column of the batch as float64 (NULL -> NaN), at the rows where the boolean ``keep`` holds."""
    values = np.asarray(batch.column(name).to_numpy(zero_copy_only=False), dtype=np.float64)
    return np.compress(keep, values)


def _texts(batch: pa.RecordBatch, name: str, rows: np.ndarray) -> np.ndarray:
    """A VARCHAR column of the batch as objects (NULL -> None), at ``rows`` (only those are converted)."""
    return np.asarray(batch.column(name).filter(pa.array(rows)).to_numpy(zero_copy_only=False), dtype=object)
