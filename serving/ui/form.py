"""The prediction form, built from the model's input schema and the catalogue, and read back.

One field per feature the landmark accepts: a text box (numbers, with the unit as a choice when the
catalogue accepts several and the centre's ULN for LDH, CRP and ferritin), or a choice (levels,
yes/no). Fields are grouped in fieldsets: the patient, then each modality, then the derived scores
(left empty, they are computed from the other values as the API computes them). A paste box takes
the API's ``features`` JSON instead. Reading the form gives the same ``features`` object a client
sends to ``POST /v1/predict/{landmark}``, so the page predicts exactly as the API does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from features.catalogue import MODALITIES, Catalogue

from ..display import feature_label
from ..inputs import InputIssue, InputSchema

PASTE = "features_json"
_GROUP_TITLES = {
    "patient": "Patient and product",
    "clinical": "Clinical and laboratory",
    "imaging": "FDG-PET imaging",
    "ctdna": "Circulating tumour DNA",
    "cellular": "Cellular (CAR-T and immune cells)",
    "derived": "Scores and derived values (left empty: computed from the values above)",
}


@dataclass
class Field:
    """One feature's controls and what was entered."""

    name: str
    label: str
    kind: str  # "number", "level" or "bool"
    unit: str
    units: list[str]
    levels: list[str]
    uln: bool
    hint: str
    uln_hint: str = ""
    value: str = ""
    unit_value: str = ""
    uln_value: str = ""
    error: str = ""

    @property
    def id(self) -> str:
        """The HTML id of the field's input."""
        return f"f-{self.name}"


@dataclass
class Group:
    """A group of fields shown together (the patient, a modality, the derived scores)."""

    key: str
    title: str
    fields: list[Field]


@dataclass
class FormState:
    """The form as entered: groups of fields, the paste box, and errors not tied to one field."""

    groups: list[Group]
    paste: str = ""
    paste_error: str = ""
    errors: list[str] = field(default_factory=list)

    @property
    def fields(self) -> dict[str, Field]:
        """Every field by feature name."""
        return {f.name: f for g in self.groups for f in g.fields}

    @property
    def invalid(self) -> list[Field]:
        """The fields with an error."""
        return [f for g in self.groups for f in g.fields if f.error]


def empty_form(schema: InputSchema, catalogue: Catalogue) -> FormState:
    """The landmark's form with nothing entered."""
    groups: dict[str, list[Field]] = {key: [] for key in ("patient", *MODALITIES, "derived")}
    for name, spec_field in schema.fields.items():
        spec = spec_field.spec
        key = spec.source if spec.source in ("patient", "derived") else spec.modality
        kind = "level" if spec.type == "category" else "bool" if spec.type == "bool" else "number"
        valid = (
            f"valid {spec.range[0]:g} to {spec.range[1]:g} {spec.unit}".strip() + "; " if spec.range else ""
        )
        default_uln = catalogue.biomarker(spec.biomarker).default_uln if spec.biomarker else None
        groups[key].append(
            Field(
                name=name,
                label=feature_label(spec, catalogue),
                kind=kind,
                unit=spec.unit,
                units=list(spec_field.units),
                levels=list(spec.levels or ()),
                uln=spec_field.reference_high,
                hint=f"{valid}{spec.description}",
                uln_hint=f"in the value's unit; left empty, {default_uln:g} {spec.unit} is used"
                if default_uln
                else "",
                unit_value=spec.unit,
            )
        )
    return FormState([Group(k, _GROUP_TITLES[k], fields) for k, fields in groups.items() if fields])


def read_form(state: FormState, data: Mapping[str, str]) -> dict[str, Any]:
    """Fill ``state`` from submitted form data and return the request ``features`` (errors set on fields).

    Args:
        state: an empty form (filled in place).
        data: the submitted name -> value pairs.

    Returns:
        The features JSON; when the paste box is used, its content (and the fields show it).
    """
    state.paste = data.get(PASTE, "").strip()
    if state.paste:
        return _read_paste(state)
    features: dict[str, Any] = {}
    for f in state.fields.values():
        f.value = data.get(f.id, "").strip()
        f.unit_value = data.get(f"u-{f.name}", f.unit).strip() or f.unit
        f.uln_value = data.get(f"uln-{f.name}", "").strip()
        value = _field_value(f)
        if value is not None:
            features[f.name] = value
    return features


def fill_form(state: FormState, features: Mapping[str, Any]) -> None:
    """Show ``features`` (a features JSON object) in the fields.

    Values the form has no field for are ignored.
    """
    fields = state.fields
    for name, raw in features.items():
        f = fields.get(name)
        if f is None or raw is None:
            continue
        item = raw if isinstance(raw, Mapping) else {"value": raw}
        value = item.get("value")
        f.value = (
            ("yes" if value else "no") if f.kind == "bool" and isinstance(value, bool | int) else _text(value)
        )
        f.unit_value = str(item.get("unit") or f.unit)
        f.uln_value = _text(item.get("reference_high"))


def attach_issues(state: FormState, issues: list[InputIssue]) -> None:
    """Show each validation issue on its field (``loc`` = (..., feature, ...)), else at the top."""
    fields = state.fields
    for issue in issues:
        name = next((str(part) for part in issue.loc if str(part) in fields), None)
        if name is not None and not fields[name].error:
            fields[name].error = issue.msg
        elif name is None:
            state.errors.append(f"{issue.loc[-1]}: {issue.msg}")


def _read_paste(state: FormState) -> dict[str, Any]:
    try:
        data = json.loads(state.paste)
    except json.JSONDecodeError as exc:
        state.paste_error = f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        return {}
    if isinstance(data, dict) and isinstance(data.get("features"), dict):
        data = data["features"]
    if not isinstance(data, dict):
        state.paste_error = 'expected a JSON object of features, or {"features": {...}} as the API takes'
        return {}
    fill_form(state, data)
    return data


def _field_value(f: Field) -> Any:
    """The JSON value of a field, None when empty or wrong (then ``f.error`` says why)."""
    if not f.value:
        return None
    if f.kind == "level":
        return f.value
    if f.kind == "bool":
        return (
            {"yes": True, "no": False}.get(f.value)
            if f.value in ("yes", "no")
            else _fail(f, "choose yes or no")
        )
    number = _number(f, f.value, "the value")
    reference = _number(f, f.uln_value, "the upper limit of normal") if f.uln and f.uln_value else None
    if number is None or (f.uln_value and f.uln and reference is None):
        return None
    if f.unit_value == f.unit and reference is None:
        return number
    return {"value": number, "unit": f.unit_value} | (
        {"reference_high": reference} if reference is not None else {}
    )


def _number(f: Field, text: str, what: str) -> float | int | None:
    try:
        number = float(text)
    except ValueError:
        _fail(f, f"{what} must be a number with a decimal point, e.g. 3.5")
        return None
    return int(number) if number.is_integer() and "." not in text and "e" not in text.lower() else number


def _fail(f: Field, message: str) -> None:
    f.error = f.error or message


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value)) if abs(value) < 1e15 else repr(value)
    return str(value)
