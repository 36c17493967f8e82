"""The biomarker catalogue reference page, rendered from ``features/catalogue.yaml``."""

from __future__ import annotations

from features.catalogue import Biomarker, Catalogue, DerivedFeature, PatientAttribute, load_catalogue

from .markdown import code, notice, page, table

INTRO = """\
Every biomarker the project reads, the windows a value may come from, and the model inputs of each
landmark. Values are stored in the canonical unit; an accepted alternative unit is converted at
ingest (the [data format](../data-format.md) describes the files). A model input is a biomarker in a
window, named `<biomarker>_<window>`, holding the latest value collected inside the window and
reported by the landmark day. Why each biomarker is here, and its published effect, is in the
[evidence document](../evidence.md#1-biomarkers)."""
DERIVED_INTRO = """\
## Derived features

Computed from the point-in-time frame by `features/derived.py`; definitions and boundary conventions
are in the [evidence document](../evidence.md#3-clinical-scores-and-derived-features)."""


def render_catalogue(catalogue: Catalogue | None = None) -> str:
    """The catalogue page: windows, landmarks, biomarkers, patient attributes, derived features, inputs.

    Args:
        catalogue: the catalogue to document (the packaged ``features/catalogue.yaml`` by default).

    Returns:
        The page as Markdown.
    """
    catalogue = catalogue or load_catalogue()
    return page(
        "# Biomarker catalogue",
        notice(script="docs/gen/catalogue.py", source="features/catalogue.yaml"),
        INTRO,
        "## Windows\n\nDays relative to infusion (day 0), both ends inclusive.",
        table(
            ["window", "first day", "last day", "description"],
            [(code(w.name), w.start, w.end, w.description) for w in catalogue.windows.values()],
        ),
        "## Landmarks",
        table(
            ["landmark", "day", "windows it may use", "who is scored"],
            [
                (code(lm.name), lm.day, ", ".join(lm.windows), lm.description)
                for lm in catalogue.landmarks.values()
            ],
        ),
        "## Biomarkers",
        table(
            [
                "name",
                "modality",
                "type",
                "unit",
                "accepted units (× to canonical)",
                "LOINC",
                "default ULN",
                "windows",
                "range or levels",
                "description",
            ],
            [_biomarker_row(b) for b in catalogue.biomarkers],
        ),
        "## Patient attributes\n\nColumns of the patients file that are model inputs (known at apheresis).",
        table(
            ["name", "modality", "type", "unit", "range or levels", "description"],
            [_attribute_row(a) for a in catalogue.patient_attributes],
        ),
        DERIVED_INTRO,
        table(
            ["name", "modality", "type", "unit", "range", "landmarks", "description"],
            [_derived_row(d) for d in catalogue.derived],
        ),
        "## Model inputs per landmark",
        *(_landmark_inputs(catalogue, name) for name in catalogue.landmarks),
    )


def _biomarker_row(b: Biomarker) -> tuple[object, ...]:
    accepted = ", ".join(
        [code(b.unit)] * bool(b.unit) + [f"{code(u)} (×{f:g})" for u, f in b.alt_units.items()]
    )
    default_uln = "" if b.default_uln is None else f"{b.default_uln:g}"
    return (
        code(b.name),
        b.modality,
        b.type,
        code(b.unit),
        accepted,
        b.loinc or "",
        default_uln,
        ", ".join(b.windows),
        _range_or_levels(b),
        b.description,
    )


def _attribute_row(a: PatientAttribute) -> tuple[object, ...]:
    return (code(a.name), a.modality, a.type, code(a.unit), _range_or_levels(a), a.description)


def _derived_row(d: DerivedFeature) -> tuple[object, ...]:
    return (
        code(d.name),
        d.modality,
        d.type,
        code(d.unit),
        _range_or_levels(d),
        ", ".join(d.landmarks),
        d.description,
    )


def _range_or_levels(item: Biomarker | PatientAttribute | DerivedFeature) -> str:
    if item.levels is not None:
        return ("ordered: " if item.ordered else "") + ", ".join(code(level) for level in item.levels)
    if item.range is not None:
        low, high = item.range
        return f"{low:g} to {high:g}"
    return ""


def _landmark_inputs(catalogue: Catalogue, landmark: str) -> str:
    specs = catalogue.feature_specs(landmark)
    rows = [
        (i, code(s.name), s.source, s.modality, s.type, code(s.unit)) for i, s in enumerate(specs, start=1)
    ]
    heading = f"### `{landmark}`\n\n{len(specs)} inputs, in the order of the feature frame."
    return heading + "\n\n" + table(["#", "column", "source", "modality", "type", "unit"], rows)
