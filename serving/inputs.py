"""Validate one patient's features from a JSON request against the catalogue, in canonical units.

Light, pure-Python checks (this is on the request hot path): each value is a number, a boolean or a
level, or ``{"value": ..., "unit": ..., "reference_high": ...}`` for another accepted unit;
``null`` or absent means missing. Every problem becomes an :class:`InputIssue` naming the field.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from features.catalogue import Catalogue, FeatureSpec
from features.units import to_canonical
from models.encode import Value

_OBJECT_KEYS = frozenset({"value", "unit", "reference_high"})
LARGEST_NUMBER = float(np.finfo(np.float32).max)
"""The model computes in float32: a larger number (possible for a feature without a catalogue range,
such as a derived ratio) would reach XGBoost as infinity. Found by fuzzing the catalogue-generated schema."""


@dataclass(frozen=True)
class InputIssue:
    """One rejected field: FastAPI's 422 item shape (``loc``, ``msg``, ``type``)."""

    loc: tuple[str | int, ...]
    msg: str
    type: str

    def as_dict(self) -> dict[str, Any]:
        """The issue as an item of a 422 response's ``detail`` list."""
        return {"loc": list(self.loc), "msg": self.msg, "type": self.type}


class InputError(ValueError):
    """The request has bad fields; ``issues`` names each of them."""

    def __init__(self, issues: Sequence[InputIssue]) -> None:
        super().__init__(f"{len(issues)} invalid field(s)")
        self.issues = tuple(issues)


@dataclass(frozen=True)
class InputField:
    """What a request may send for one feature."""

    spec: FeatureSpec
    units: Mapping[str, float]  # accepted unit -> factor to the canonical unit (canonical first)
    reference_high: bool  # the biomarker's ULN may be sent (feeds ldh_uln_ratio and IPI)


@dataclass
class PatientValues:
    """One patient's validated values (canonical units), with the ULNs and nulls sent.

    The ULNs come as sent; features sent as ``null`` are known to be missing (a derived feature sent as null
    is not computed).
    """

    values: dict[str, Value] = field(default_factory=dict)
    uln: dict[str, float] = field(default_factory=dict)
    nulls: set[str] = field(default_factory=set)


class InputSchema:
    """The features a landmark accepts: every catalogue feature of the landmark."""

    def __init__(self, catalogue: Catalogue, landmark: str, specs: Sequence[FeatureSpec]) -> None:
        self.landmark = landmark
        self.fields: dict[str, InputField] = {spec.name: _input_field(catalogue, spec) for spec in specs}
        self.derived = tuple(s.name for s in specs if s.source == "derived")
        self._other_landmarks = {
            name for lm in catalogue.landmarks if lm != landmark for name in catalogue.feature_names(lm)
        }

    @classmethod
    def for_landmark(
        cls, catalogue: Catalogue, landmark: str, model_specs: Sequence[FeatureSpec] = ()
    ) -> InputSchema:
        """The catalogue's features of ``landmark``; a model's own spec wins for a feature it uses."""
        specs = {s.name: s for s in catalogue.feature_specs(landmark)}
        specs.update({s.name: s for s in model_specs})
        return cls(catalogue, landmark, list(specs.values()))

    def parse(
        self, raw: Mapping[str, Any], loc: tuple[str | int, ...] = ("body", "features")
    ) -> PatientValues:
        """Validate ``raw`` (feature name -> JSON value) into canonical values.

        Raises:
            InputError: every bad field, each with its location and reason.
        """
        out, issues = PatientValues(), []
        for name, raw_value in raw.items():
            spec_field = self.fields.get(name)
            if spec_field is None:
                issues.append(InputIssue((*loc, name), self._unknown_message(name), "unknown_feature"))
                continue
            try:
                value, uln = _parse_value(spec_field, raw_value)
            except _RejectError as exc:
                issues.append(InputIssue((*loc, name, *exc.sub_loc), exc.msg, exc.kind))
                continue
            if value is None:
                out.nulls.add(name)
            else:
                out.values[name] = value
            if uln is not None:
                out.uln[name] = uln
        if issues:
            raise InputError(issues)
        return out

    def _unknown_message(self, name: str) -> str:
        if name in self._other_landmarks:
            return f"feature {name!r} is not known at the {self.landmark} landmark"
        close = difflib.get_close_matches(name, list(self.fields), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"unknown feature {name!r} for the {self.landmark} landmark{hint}"


class _RejectError(Exception):
    def __init__(self, msg: str, kind: str, sub_loc: tuple[str, ...] = ()) -> None:
        super().__init__(msg)
        self.msg, self.kind, self.sub_loc = msg, kind, sub_loc


def _input_field(catalogue: Catalogue, spec: FeatureSpec) -> InputField:
    units: dict[str, float] = {spec.unit: 1.0}
    reference_high = False
    if spec.biomarker is not None:
        biomarker = catalogue.biomarker(spec.biomarker)
        units.update(biomarker.alt_units)
        reference_high = biomarker.default_uln is not None
    return InputField(spec=spec, units=units, reference_high=reference_high)


def _parse_value(spec_field: InputField, raw: Any) -> tuple[Value | None, float | None]:
    """(canonical value or None for missing, canonical ULN or None)."""
    if isinstance(raw, dict):
        return _parse_object(spec_field, raw)
    return _coerce(spec_field.spec, raw, factor=1.0, unit=spec_field.spec.unit), None


def _parse_object(spec_field: InputField, raw: dict[str, Any]) -> tuple[Value | None, float | None]:
    spec = spec_field.spec
    extra = sorted(set(raw) - _OBJECT_KEYS)
    if extra:
        raise _RejectError(
            f"unexpected key(s) {extra}; expected 'value', 'unit' and optionally 'reference_high'",
            "extra_forbidden",
            (extra[0],),
        )
    if "value" not in raw:
        raise _RejectError("missing 'value'", "missing", ("value",))
    unit = raw.get("unit", spec.unit)
    if unit is None:
        unit = spec.unit
    if not isinstance(unit, str):
        raise _RejectError("unit must be a string", "string_type", ("unit",))
    factor = spec_field.units.get(unit.strip())
    if factor is None:
        raise _RejectError(
            f"unknown unit {_shown(unit)} for {spec.name}; accepted: {list(spec_field.units)}",
            "unknown_unit",
            ("unit",),
        )
    value = _coerce(spec, raw["value"], factor=factor, unit=unit, sub_loc=("value",))
    return value, _reference_high(spec_field, raw.get("reference_high"), factor)


def _reference_high(spec_field: InputField, raw: Any, factor: float) -> float | None:
    if raw is None:
        return None
    if not spec_field.reference_high:
        raise _RejectError(
            f"reference_high is not used for {spec_field.spec.name}", "extra_forbidden", ("reference_high",)
        )
    number = _finite_number(raw, ("reference_high",))
    if number <= 0:
        raise _RejectError("reference_high must be greater than 0", "greater_than", ("reference_high",))
    return _convert(number, factor)


def _coerce(
    spec: FeatureSpec, raw: Any, *, factor: float, unit: str, sub_loc: tuple[str, ...] = ()
) -> Value | None:
    if raw is None:
        return None
    if spec.type == "category":
        return _level(spec, raw, sub_loc)
    if spec.type == "bool":
        return _boolean(raw, sub_loc)
    number = _finite_number(raw, sub_loc)
    if spec.type == "int" and number != int(number):
        raise _RejectError(f"expected an integer, got {_shown(raw)}", "int_from_float", sub_loc)
    value = _convert(number, factor)
    _check_range(spec, value, raw, unit, sub_loc)
    return value


def _level(spec: FeatureSpec, raw: Any, sub_loc: tuple[str, ...]) -> str:
    levels = spec.levels or ()
    if not isinstance(raw, str):
        raise _RejectError(
            f"expected one of {list(levels)}, got a {type(raw).__name__}", "string_type", sub_loc
        )
    if raw not in levels:
        raise _RejectError(
            f"unknown level {_shown(raw)}; expected one of {list(levels)}", "unknown_level", sub_loc
        )
    return raw


def _boolean(raw: Any, sub_loc: tuple[str, ...]) -> float:
    if isinstance(raw, bool):
        return float(raw)
    if isinstance(raw, int | float) and raw in (0, 1):
        return float(raw)
    raise _RejectError(f"expected true/false (or 0/1), got {_shown(raw)}", "bool_type", sub_loc)


def _finite_number(raw: Any, sub_loc: tuple[str, ...]) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise _RejectError(f"expected a number, got a {type(raw).__name__}", "float_type", sub_loc)
    try:
        number = float(raw)
    except OverflowError:  # a JSON integer beyond float range
        raise _RejectError("number too large", "finite_number", sub_loc) from None
    if not math.isfinite(number):
        raise _RejectError(
            "NaN and infinity are not accepted; send null for a missing value", "finite_number", sub_loc
        )
    if abs(number) > LARGEST_NUMBER:
        raise _RejectError(
            f"number too large (the model takes at most {LARGEST_NUMBER:.3g} in size)",
            "finite_number",
            sub_loc,
        )
    return number


def _check_range(spec: FeatureSpec, value: float, raw: Any, unit: str, sub_loc: tuple[str, ...]) -> None:
    if spec.range is None:
        return
    low, high = spec.range
    if not low <= value <= high:
        given = f"{_shown(raw)} {unit}".strip()
        raise _RejectError(
            f"{given} is outside the valid range [{low:g}, {high:g}] {spec.unit}".rstrip(),
            "out_of_range",
            sub_loc,
        )


def _shown(raw: Any, limit: int = 40) -> str:
    """``repr(raw)``, shortened: error messages quote the input, never at length."""
    text = repr(raw)
    return text if len(text) <= limit else f"{text[:limit]}..."


def _convert(number: float, factor: float) -> float:
    """``number`` in the canonical unit, rounded as ingest rounds (``features.units``)."""
    return to_canonical(number, factor)
