"""The ``features`` a client would send to ``POST /v1/predict/{landmark}``, from a CDS prefetch.

The rule is ``features.pit``'s, applied to the prefetched Observations (mapped to registry rows by
``features.fhir.map_resources``, as ingest maps them):

* an Observation counts if it was issued before the request, reported before the end of the landmark
  day, and collected on a day (relative to the infusion date) inside a window the landmark allows;
* it must be mapped by ``map_resources`` (its rejections, e.g. a preliminary status, are listed as not used)
  and pass the checks ingest applies (unit, value, range, ``reference_high``, reported not before
  collected); here they are the API's own checks (``model.schema.parse`` of the one value);
* two reports of one result (same biomarker, collected_at and reported_at) with different values are
  both dropped (ingest quarantines both as a conflicting report); identical repeats count once;
* per feature the latest collected wins, then the latest reported.

Numbers are sent in the unit the Observation gave, with its ``reference_high`` (the ULN) for
biomarkers that have a default ULN, so the API converts and derives exactly as it does for a client.
Patient attributes come from the patient row (age at apheresis, sex, product), plus
``vein_to_vein_days`` from the Procedures' dates (the store derives it from the same dates).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from features.catalogue import Catalogue
from features.fhir import FhirMapping, ObservationRow

from ..inputs import InputError, InputSchema
from .landmark import Landmark

_TOLERANCE = 1e-9  # the store's RELATIVE_TOLERANCE: two canonical numbers closer than this are one value


@dataclass(frozen=True)
class NotUsed:
    """A resource or value that gives no feature, with the reason (a quarantine reason) and detail."""

    what: str
    reason: str
    detail: str


@dataclass
class Features:
    """The request features and the accounting of what was read."""

    features: dict[str, Any] = field(default_factory=dict)
    not_used: list[NotUsed] = field(default_factory=list)
    after_landmark: int = 0
    after_request: int = 0
    outside_windows: int = 0


@dataclass(frozen=True)
class _Candidate:
    feature: str
    collected: datetime
    reported: datetime
    canonical: float | str
    uln: float | None
    payload: Any
    source: str


def landmark_features(
    mapping: FhirMapping,
    landmark: Landmark,
    *,
    raw: Mapping[Any, Any],
    schema: InputSchema,
    catalogue: Catalogue,
    now: datetime,
) -> Features:
    """What was known about the patient at the landmark, as the API's ``features`` object.

    Args:
        mapping: ``map_resources`` of the prefetch.
        landmark: the patient row and dates (``landmark.find_landmark``).
        raw: record key -> resource JSON (for ``issued`` as an instant).
        schema: the landmark model's input schema (validates each value as the API does).
        catalogue: gives each biomarker's windows and default ULN.
        now: the request time (timezone-aware).
    """
    reader = _Reader(landmark, schema, catalogue, now)
    reader.out.not_used += [
        NotUsed(f"{r.resource_type or 'entry'}/{r.resource_id or '(no id)'}", r.reason, r.detail)
        for r in mapping.rejected
        if isinstance(r.key, tuple) and r.key[0] == "observations"
    ]
    _patient_attributes(landmark, schema, reader.out)
    candidates = [c for row in mapping.observations for c in reader.candidates(row, raw.get(row.key))]
    for chosen in _choose(_without_conflicts(candidates, reader.out)):
        reader.out.features[chosen.feature] = chosen.payload
    return reader.out


def _patient_attributes(landmark: Landmark, schema: InputSchema, out: Features) -> None:
    row = landmark.row
    values: dict[str, Any] = {
        "age": float(row.age) if row.age else None,
        "sex": row.sex or None,
        "product": row.product or None,
    }
    if row.apheresis_date and "vein_to_vein_days" in schema.fields:
        values["vein_to_vein_days"] = float((landmark.infusion_date - _day(row.apheresis_date)).days)
    for name, value in values.items():
        if (
            value is not None
            and name in schema.fields
            and _valid(schema, name, value, f"Patient/{row.patient_id}", out)
        ):
            out.features[name] = value


class _Reader:
    """Turns observation rows into candidate feature values under the point-in-time rule."""

    def __init__(self, landmark: Landmark, schema: InputSchema, catalogue: Catalogue, now: datetime) -> None:
        self.landmark, self.schema, self.catalogue, self.now = landmark, schema, catalogue, now
        self.out = Features()
        self.cutoff = datetime.combine(landmark.landmark_date + timedelta(days=1), datetime.min.time())
        self.windows: dict[str, list[tuple[str, int, int]]] = {}
        for spec in catalogue.window_features(schema.landmark):
            if spec.name in schema.fields and spec.biomarker and spec.window:
                window = catalogue.windows[spec.window]
                self.windows.setdefault(spec.biomarker, []).append((spec.name, window.start, window.end))

    def candidates(self, row: ObservationRow, resource: Mapping[str, Any] | None) -> list[_Candidate]:
        """The row's candidate values (one per window feature its collection day falls in), or none."""
        source = f"Observation/{row.observation_id or '(no id)'}"
        if row.patient_id != self.landmark.row.patient_id:
            self.out.not_used.append(NotUsed(source, "unknown patient", "subject is another patient"))
            return []
        collected = datetime.fromisoformat(row.collected_at)
        reported = datetime.fromisoformat(row.reported_at) if row.reported_at else collected
        if reported < collected:
            self.out.not_used.append(
                NotUsed(source, "reported before collected", "issued is before effective[x]")
            )
            return []
        if not _issued_by(resource, reported, self.now):
            self.out.after_request += 1
            return []
        if reported >= self.cutoff:
            self.out.after_landmark += 1
            return []
        day = (collected.date() - self.landmark.infusion_date).days
        features = [name for name, start, end in self.windows.get(row.biomarker, []) if start <= day <= end]
        if not features:
            self.out.outside_windows += 1
        found = (self._candidate(f, row, collected, reported, source) for f in features)
        return [c for c in found if c is not None]

    def _candidate(
        self,
        feature: str,
        row: ObservationRow,
        collected: datetime,
        reported: datetime,
        source: str,
    ) -> _Candidate | None:
        spec = self.schema.fields[feature].spec
        has_uln = self.catalogue.biomarker(row.biomarker).default_uln is not None
        payload, problem = _payload(spec.type, spec.unit, row, has_uln)
        if problem:
            self.out.not_used.append(NotUsed(source, "bad value", problem))
            return None
        try:
            parsed = self.schema.parse({feature: payload}, loc=("prefetch", "observations"))
        except InputError as exc:
            issue = exc.issues[0]
            self.out.not_used.append(NotUsed(source, _REASONS.get(issue.type, "bad value"), issue.msg))
            return None
        return _Candidate(
            feature, collected, reported, parsed.values[feature], parsed.uln.get(feature), payload, source
        )


_REASONS = {"out_of_range": "out of range", "unknown_unit": "unknown unit", "unknown_level": "bad value"}


def _payload(value_type: str, canonical_unit: str, row: ObservationRow, uln: bool) -> tuple[Any, str]:
    """(the JSON value a client would send, "") or (None, what is wrong with the row's text)."""
    reference = None
    if row.reference_high:
        reference = _number(row.reference_high)
        if reference is None or reference <= 0:
            return None, "reference_high is not a positive number"
    if value_type in ("float", "int"):
        value: Any = _number(row.value)
        if value is None:
            return None, "the value is not a finite number"
        value = int(value) if value_type == "int" and value.is_integer() else value
    elif value_type == "bool":
        value = {"true": True, "false": False}.get(row.value.strip().lower(), _number(row.value))
        value = bool(value) if value in (0, 1) else value
        if not isinstance(value, bool):
            return None, "the value is not true, false, 0 or 1"
    else:
        value = row.value.strip(" ")
    if row.unit.strip() == canonical_unit and not (uln and reference):
        return value, ""
    return {"value": value, "unit": row.unit} | (
        {"reference_high": reference} if uln and reference else {}
    ), ""


def _number(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _issued_by(resource: Mapping[str, Any] | None, reported: datetime, now: datetime) -> bool:
    """Whether the result was issued at or before ``now``.

    ``issued`` as an instant when it has an offset, else the local reported time against the server's local
    clock.
    """
    issued = resource.get("issued") if isinstance(resource, Mapping) else None
    try:
        moment = datetime.fromisoformat(issued) if isinstance(issued, str) else None
    except ValueError:
        moment = None
    if moment is not None and moment.tzinfo is not None:
        return moment <= now
    return reported <= now.astimezone().replace(tzinfo=None)


def _without_conflicts(candidates: Iterable[_Candidate], out: Features) -> list[_Candidate]:
    """One candidate per (feature, collected, reported); all of a group dropped when their values differ."""
    groups: dict[tuple[str, datetime, datetime], list[_Candidate]] = {}
    for candidate in candidates:
        groups.setdefault((candidate.feature, candidate.collected, candidate.reported), []).append(candidate)
    kept = []
    for (feature, collected, reported), group in groups.items():
        if all(_same(group[0], other) for other in group[1:]):
            kept.append(group[0])
            continue
        detail = (
            f"another Observation reports {feature} collected {collected} (reported {reported}) "
            "with another value"
        )
        out.not_used += [NotUsed(c.source, "conflicting report", detail) for c in group]
    return kept


def _same(a: _Candidate, b: _Candidate) -> bool:
    if isinstance(a.canonical, str) or isinstance(b.canonical, str):
        return a.canonical == b.canonical and _close(a.uln, b.uln)
    return _close(a.canonical, b.canonical) and _close(a.uln, b.uln)


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= _TOLERANCE * max(1.0, abs(a), abs(b))


def _choose(candidates: list[_Candidate]) -> list[_Candidate]:
    """Per feature, the latest collected, then the latest reported (then the larger value, as the store)."""
    best: dict[str, _Candidate] = {}
    for candidate in candidates:
        current = best.get(candidate.feature)
        if current is None or _order(candidate) > _order(current):
            best[candidate.feature] = candidate
    return list(best.values())


def _order(c: _Candidate) -> tuple[datetime, datetime, float, str]:
    number = c.canonical if isinstance(c.canonical, float) else -math.inf
    return c.collected, c.reported, number, c.canonical if isinstance(c.canonical, str) else ""


def _valid(schema: InputSchema, name: str, value: Any, what: str, out: Features) -> bool:
    try:
        schema.parse({name: value}, loc=("prefetch", "patient"))
    except InputError as exc:
        out.not_used.append(NotUsed(what, _REASONS.get(exc.issues[0].type, "bad value"), exc.issues[0].msg))
        return False
    return True


def _day(text: str) -> Any:
    return datetime.fromisoformat(text).date()
