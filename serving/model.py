"""A loaded model ready to serve: the predictor plus what the request path needs precomputed."""

from __future__ import annotations

from dataclasses import dataclass, field

import xgboost as xgb

from features.catalogue import Catalogue, FeatureSpec, load_catalogue
from models.predictor import RelapsePredictor

from .inputs import InputSchema

SMALL_BATCH_ROWS = 64
"""Up to this many rows, predict with a single-threaded booster (thread start-up dominates)."""


@dataclass(frozen=True)
class ServingModel:
    """One landmark's model as the API uses it.

    Attributes:
        landmark: ``preinfusion`` or ``day30``.
        name, version, alias, uri: where it came from (version/alias None for a non-registry URI).
        predictor: the same object ``mlflow.pyfunc`` unwraps, so both give the same numbers.
        schema: the accepted request features (catalogue features of the landmark).
    """

    landmark: str
    name: str
    version: str | None
    alias: str | None
    uri: str
    predictor: RelapsePredictor
    schema: InputSchema
    specs: tuple[FeatureSpec, ...]
    small_booster: xgb.Booster = field(repr=False)

    @classmethod
    def build(
        cls,
        predictor: RelapsePredictor,
        *,
        name: str,
        version: str | None = None,
        alias: str | None = None,
        uri: str = "",
        catalogue: Catalogue | None = None,
    ) -> ServingModel:
        """Wrap ``predictor`` with its request schema and a 1-thread booster copy."""
        catalogue = catalogue or load_catalogue()
        specs = tuple(predictor.metadata.features)
        small = predictor.booster.copy()
        small.set_param({"nthread": 1})
        return cls(
            landmark=predictor.metadata.landmark,
            name=name,
            version=version,
            alias=alias,
            uri=uri,
            predictor=predictor,
            schema=InputSchema.for_landmark(catalogue, predictor.metadata.landmark, specs),
            specs=specs,
            small_booster=small,
        )
