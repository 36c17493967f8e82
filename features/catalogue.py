"""The biomarker catalogue: typed view of ``catalogue.yaml``.

Everything that names a biomarker, a unit, a window or a feature column reads it from here:
validation at ingest, the point-in-time SQL, derived scores, the training feature lists and the
API schema.
"""

from __future__ import annotations

import math
import re
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

Modality = Literal["clinical", "imaging", "ctdna", "cellular"]
ValueType = Literal["float", "int", "category", "bool"]
MODALITIES: tuple[Modality, ...] = ("clinical", "imaging", "ctdna", "cellular")
CATALOGUE_PATH = Path(__file__).with_name("catalogue.yaml")
_LOINC = re.compile(r"\d{1,7}-\d")


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
    """A landmark: the day predictions are made (from infusion) and the windows its features come from."""

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
    """A measured biomarker: canonical and accepted units, LOINC codes and measurement windows."""

    alt_units: dict[str, float] = Field(default_factory=dict)
    loinc: str | None = None
    """The preferred LOINC code (what an exporter writes)."""
    loinc_alt: tuple[str, ...] = ()
    """Other LOINC codes labs use for the same measurement (another method or specimen, or the
    moles/volume variant reported in umol/L or mmol/L); read like the preferred one."""
    default_uln: float | None = None
    windows: tuple[str, ...]

    @model_validator(mode="after")
    def _valid_loinc(self) -> Biomarker:
        if self.loinc_alt and not self.loinc:
            raise ValueError(f"{self.name}: loinc_alt needs a preferred loinc code")
        for code in self.loinc_codes:
            if not _LOINC.fullmatch(code) or _loinc_check_digit(code[:-2]) != int(code[-1]):
                raise ValueError(
                    f"{self.name}: {code!r} is not a LOINC code (format NNNNN-C, mod-10 check digit)"
                )
        return self

    @property
    def loinc_codes(self) -> tuple[str, ...]:
        """Every LOINC code of the biomarker, the preferred one first."""
        return ((self.loinc,) if self.loinc else ()) + self.loinc_alt

    def unit_factor(self, unit: str) -> float | None:
        """Multiplier taking a value in ``unit`` to the canonical unit, or None if not accepted."""
        unit = (unit or "").strip()
        if unit == self.unit:
            return 1.0
        return self.alt_units.get(unit)

    @property
    def accepted_units(self) -> tuple[str, ...]:
        """The canonical unit first, then every alternative unit accepted."""
        return (self.unit, *self.alt_units)


class PatientAttribute(_Typed):
    """A column of the patients file that is a model feature (age, sex, product)."""


class DerivedFeature(_Typed):
    """A feature computed from other features (a clinical score or ratio), for the listed landmarks."""

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
    """The biomarker catalogue: windows, landmarks, patient attributes, biomarkers and derived features."""

    windows: dict[str, Window]
    landmarks: dict[str, Landmark]
    patient_attributes: tuple[PatientAttribute, ...]
    biomarkers: tuple[Biomarker, ...]
    derived: tuple[DerivedFeature, ...]
    ucum_units: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    """UCUM code -> the catalogue spellings of exactly the same unit (see ``unit_spelling``)."""

    @model_validator(mode="after")
    def _consistent(self) -> Catalogue:
        names = [b.name for b in self.biomarkers]
        if len(names) != len(set(names)):
            raise ValueError("duplicate biomarker names in the catalogue")
        _check_loinc_unique(self.biomarkers)
        _check_ucum_units(self.ucum_units, self.biomarkers)
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
        """Every biomarker's name, in catalogue order."""
        return tuple(b.name for b in self.biomarkers)

    def loinc_index(self) -> dict[str, str]:
        """Every LOINC code of the catalogue (preferred and alternate) -> its biomarker's name."""
        return {code: b.name for b in self.biomarkers for code in b.loinc_codes}

    def unit_spelling(self, biomarker: str, unit: str) -> str | None:
        """The spelling under which ``biomarker`` accepts ``unit`` (a UCUM code or a catalogue spelling).

        Args:
            biomarker: a catalogue biomarker name.
            unit: a UCUM code (``10*9/L``) or a unit as the catalogue writes it (``10^9/L``).

        Returns:
            The first of ``ucum_units[unit]`` (then ``unit`` itself) that the biomarker accepts, so
            that ``unit_factor`` of it converts the value; None when the biomarker accepts none.
        """
        accepted = self.biomarker(biomarker)
        for spelling in (*self.ucum_units.get(unit, ()), unit):
            if accepted.unit_factor(spelling) is not None:
                return spelling
        return None

    def window_features(self, landmark: str) -> list[FeatureSpec]:
        """Biomarker x window features whose window closes at or before the landmark."""
        allowed = set(self.landmarks[landmark].windows)
        return [
            FeatureSpec(
                name=f"{b.name}_{w}",
                source="biomarker",
                biomarker=b.name,
                window=w,
                modality=b.modality,
                type=b.type,
                unit=b.unit,
                range=b.range,
                levels=b.levels,
                ordered=b.ordered,
                description=f"{b.description} [{w} window]",
            )
            for b in self.biomarkers
            for w in b.windows
            if w in allowed
        ]

    def feature_specs(self, landmark: str) -> list[FeatureSpec]:
        """Every model input of a landmark, in frame order: patient attributes, windows, derived."""
        if landmark not in self.landmarks:
            raise KeyError(f"unknown landmark {landmark!r}; expected one of {sorted(self.landmarks)}")
        patient = [
            FeatureSpec(source="patient", **a.model_dump(exclude={"alt_units"}))
            for a in self.patient_attributes
        ]
        derived = [
            FeatureSpec(source="derived", **d.model_dump(exclude={"landmarks"}))
            for d in self.derived
            if landmark in d.landmarks
        ]
        return patient + self.window_features(landmark) + derived

    def feature_names(self, landmark: str) -> list[str]:
        """The model input columns of ``landmark``, in order."""
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


def _loinc_check_digit(digits: str) -> int:
    """LOINC's mod-10 check digit of the part before the hyphen (the Luhn algorithm)."""
    total = 0
    for position, digit in enumerate(reversed(digits)):
        value = int(digit) * (2 if position % 2 == 0 else 1)
        total += value // 10 + value % 10
    return (10 - total % 10) % 10


def _check_loinc_unique(biomarkers: tuple[Biomarker, ...]) -> None:
    owner: dict[str, str] = {}
    for b in biomarkers:
        for code in b.loinc_codes:
            if code in owner:
                raise ValueError(f"LOINC {code} is given for both {owner[code]} and {b.name}")
            owner[code] = b.name


def _check_ucum_units(ucum: dict[str, tuple[str, ...]], biomarkers: tuple[Biomarker, ...]) -> None:
    """Every spelling is used by some biomarker, and a biomarker's equivalent spellings share one factor."""
    used = {u for b in biomarkers for u in b.accepted_units}
    for code, spellings in ucum.items():
        unknown = [s for s in spellings if s not in used]
        if unknown:
            raise ValueError(f"ucum_units {code!r}: no biomarker uses {unknown}")
        for b in biomarkers:
            factors = {b.unit_factor(s) for s in spellings} - {None}
            if len(factors) > 1:
                raise ValueError(f"ucum_units {code!r}: {spellings} have different factors for {b.name}")


@cache
def _default_catalogue() -> Catalogue:
    return _parse(CATALOGUE_PATH)


def _parse(path: Path) -> Catalogue:
    raw = yaml.safe_load(path.read_text())
    raw["windows"] = {k: {"name": k, **v} for k, v in raw["windows"].items()}
    raw["landmarks"] = {k: {"name": k, **v} for k, v in raw["landmarks"].items()}
    return Catalogue.model_validate(raw)
