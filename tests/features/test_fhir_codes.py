"""The catalogue's FHIR codes and units, and their documentation (docs/fhir.md, docs/data-format.md)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from features.catalogue import CATALOGUE_PATH, load_catalogue
from features.fhir import FHIR_REASONS
from features.fhir_terms import BIOMARKER_SYSTEM, LOINC, code_index, codes_table

DOCS = Path(__file__).parents[2] / "docs"


def test_every_biomarker_has_a_loinc_or_a_project_code_and_the_doc_table_is_the_catalogues() -> None:
    catalogue = load_catalogue()
    index = code_index(catalogue)
    for b in catalogue.biomarkers:
        assert index[(BIOMARKER_SYSTEM, b.name)] == b.name
        assert all(index[(LOINC, code)] == b.name for code in b.loinc_codes)
    doc = (DOCS / "fhir.md").read_text()
    table = re.search(r"<!-- codes-table:start -->\n(.*?)\n<!-- codes-table:end -->", doc, re.S)
    assert table is not None and table.group(1) == codes_table(catalogue)
    assert len(table.group(1).splitlines()) == 2 + len(catalogue.biomarkers)


def test_pet_ctdna_and_cellular_research_assays_have_only_project_codes() -> None:
    catalogue = load_catalogue()
    names = ("suvmax", "tmtv", "tlg", "deauville", "ctdna", "car_peak", "car_day28", "stage", "prior_lines")
    for name in names:
        assert catalogue.biomarker(name).loinc_codes == ()


def _catalogue_with(tmp_path: Path, edit) -> Path:
    raw = yaml.safe_load(CATALOGUE_PATH.read_text())
    edit(raw)
    path = tmp_path / "catalogue.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _biomarker(raw: dict, name: str) -> dict:
    return next(b for b in raw["biomarkers"] if b["name"] == name)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda raw: _biomarker(raw, "ldh").update(loinc="2532-1"), "ldh: '2532-1' is not a LOINC code"),
        (
            lambda raw: _biomarker(raw, "ldh").update(loinc_alt=["14804-9", "LDH"]),
            "'LDH' is not a LOINC code",
        ),
        (
            lambda raw: _biomarker(raw, "crp").update(loinc_alt=["2532-0"]),
            "LOINC 2532-0 is given for both ldh and crp",
        ),
        (
            lambda raw: _biomarker(raw, "stage").update(loinc_alt=["21908-9"]),
            "stage: loinc_alt needs a preferred",
        ),
        (lambda raw: raw["ucum_units"].update({"mg/L": ["mg/l"]}), "no biomarker uses ['mg/l']"),
        (
            lambda raw: raw["ucum_units"].update({"g/L": ["g/L", "g/dL"]}),
            "have different factors for albumin",
        ),
    ],
)
def test_the_catalogue_check_refuses_bad_codes_and_unit_spellings(tmp_path, edit, message) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        load_catalogue(_catalogue_with(tmp_path, edit))


def test_loinc_check_digits_of_the_catalogue_are_verified() -> None:
    codes = load_catalogue().loinc_index()
    assert {"2532-0", "14804-9", "14805-6", "751-8", "26499-4", "8122-4", "14135-8"} <= set(codes)
    assert "8124-0" not in codes and "30522-7" not in codes


def test_every_fhir_quarantine_reason_is_documented() -> None:
    data_format, fhir = (DOCS / "data-format.md").read_text(), (DOCS / "fhir.md").read_text()
    for reason in FHIR_REASONS:
        assert f"| `{reason}` |" in data_format and f"| `{reason}` |" in fhir, reason
