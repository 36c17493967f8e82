"""The biomarker catalogue: typed view of ``catalogue.yaml``.

Everything that names a biomarker, a unit, a window or a feature column reads it from here:
validation at ingest, the point-in-time SQL, derived scores, the training feature lists and the
API schema.
"""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

Modality = Literal["clinical", "imaging", "ctdna", "cellular"]
ValueType = Literal["float", "int", "category", "bool"]
MODALITIES: tuple[Modality, ...] = ("clinical", "imaging", "ctdna", "cellular")
CATALOGUE_PATH = Path(__file__).with_name("catalogue.yaml")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Window(_Strict):
    """Days relative to infusion (day 0), both ends inclusive."""

    name: str = ""
    start: int
    end: int
    description: str

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.start > self.end:
            raise ValueError(f"window {self.name}: start {self.start} > end {self.end}")
        return self


class Landmark(_Strict):
    name: str = ""
    day: int
    windows: tuple[str, ...]
    description: str


class _Typed(_Strict):
    """Fields shared by biomarkers, patient attributes and derived features."""

    name: str
    modality: Modality
    type: ValueType
    unit: str = ""
    range: tuple[float, float] | None = None
    levels: tuple[str, ...] | None = None
    ordered: bool = False
    description: str

    @model_validator(mode="after")
    def _levels_for_categories(self) -> _Typed:
        if (self.type == "category") != (self.levels is not None):
            raise ValueError(f"{self.name}: levels are required for, and only for, category types")
        return self


class Biomarker(_Typed):
    alt_units: dict[str, float] = Field(default_factory=dict)
    loinc: str | None = None
    default_uln: float | None = None
    windows: tuple[str, ...]

    def unit_factor(self, unit: str) -> float | None:
        """Multiplier taking a value in ``unit`` to the canonical unit, or None if not accepted."""
        unit = (unit or "").strip()
        if unit == self.unit:
            return 1.0
        return self.alt_units.get(unit)

    @property
    def accepted_units(self) -> tuple[str, ...]:
        return (self.unit, *self.alt_units)


class PatientAttribute(_Typed):
    """A column of the patients file that is a model feature (age, sex, product)."""


class DerivedFeature(_Typed):
    landmarks: tuple[str, ...]


class FeatureSpec(_Strict):
    """One model input column."""

    name: str
    source: Literal["biomarker", "patient", "derived"]
    biomarker: str | None = None
    window: str | None = None
    modality: Modality
    type: ValueType
    unit: str
    range: tuple[float, float] | None = None
    levels: tuple[str, ...] | None = None
    ordered: bool = False
    description: str


class Catalogue(_Strict):
    windows: dict[str, Window]
    landmarks: dict[str, Landmark]
    patient_attributes: tuple[PatientAttribute, ...]
    biomarkers: tuple[Biomarker, ...]
    derived: tuple[DerivedFeature, ...]

    @model_validator(mode="after")
    def _consistent(self) -> Catalogue:
        names = [b.name for b in self.biomarkers]
        if len(names) != len(set(names)):
            raise ValueError("duplicate biomarker names in the catalogue")
        for b in self.biomarkers:
            unknown = set(b.windows) - set(self.windows)
            if unknown:
                raise ValueError(f"biomarker {b.name}: unknown windows {sorted(unknown)}")
            for unit, factor in b.alt_units.items():
                if not (factor > 0 and math.isfinite(factor)):
                    raise ValueError(f"biomarker {b.name}: bad factor {factor} for unit {unit}")
        for lm in self.landmarks.values():
            unknown = set(lm.windows) - set(self.windows)
            if unknown:
                raise ValueError(f"landmark {lm.name}: unknown windows {sorted(unknown)}")
        return self

    def biomarker(self, name: str) -> Biomarker:
        """The biomarker called ``name``; KeyError naming it if unknown."""
        for b in self.biomarkers:
            if b.name == name:
                return b
        raise KeyError(f"unknown biomarker {name!r}")

    @property
    def biomarker_names(self) -> tuple[str, ...]:
        return tuple(b.name for b in self.biomarkers)

    def window_features(self, landmark: str) -> list[FeatureSpec]:
        """Biomarker x window features whose window closes at or before the landmark."""
        allowed = set(self.landmarks[landmark].windows)
        return [
            FeatureSpec(
                name=f"{b.name}_{w}", source="biomarker", biomarker=b.name, window=w,
                modality=b.modality, type=b.type, unit=b.unit, range=b.range, levels=b.levels,
                ordered=b.ordered, description=f"{b.description} [{w} window]",
            )
            for b in self.biomarkers
            for w in b.windows
            if w in allowed
        ]

    def feature_specs(self, landmark: str) -> list[FeatureSpec]:
        """Every model input of a landmark, in frame order: patient attributes, windows, derived."""
        if landmark not in self.landmarks:
            raise KeyError(f"unknown landmark {landmark!r}; expected one of {sorted(self.landmarks)}")
        patient = [FeatureSpec(source="patient", **a.model_dump(exclude={"alt_units"})) for a in self.patient_attributes]
        derived = [
            FeatureSpec(source="derived", **d.model_dump(exclude={"landmarks"}))
            for d in self.derived
            if landmark in d.landmarks
        ]
        return patient + self.window_features(landmark) + derived

    def feature_names(self, landmark: str) -> list[str]:
        return [f.name for f in self.feature_specs(landmark)]


def load_catalogue(path: Path | str | None = None) -> Catalogue:
    """Parse and validate a catalogue file (the packaged one by default).

    Args:
        path: YAML file; ``None`` for ``features/catalogue.yaml``.

    Returns:
        The validated catalogue. Raises ``pydantic.ValidationError`` naming the bad entry.
    """
    if path is None:
        return _default_catalogue()
    return _parse(Path(path))


@cache
def _default_catalogue() -> Catalogue:
    return _parse(CATALOGUE_PATH)


def _parse(path: Path) -> Catalogue:
    raw = yaml.safe_load(path.read_text())
    raw["windows"] = {k: {"name": k, **v} for k, v in raw["windows"].items()}
    raw["landmarks"] = {k: {"name": k, **v} for k, v in raw["landmarks"].items()}
    return Catalogue.model_validate(raw)
