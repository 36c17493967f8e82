"""The pure FHIR mapping (features.fhir): each field, codes, units, comparators, statuses, patients."""

from __future__ import annotations

from typing import Any

import pytest

from features.fhir import FhirMapping, ObservationRow, Rejection, map_resources
from features.fhir_terms import APHERESIS, INFUSION, PRODUCT_SYSTEM

from .fhir_factories import loinc, observation, patient, procedure, project, quantity, registered


def mapped(*resources: dict[str, Any] | None, references: dict[str, str] | None = None) -> FhirMapping:
    return map_resources(enumerate(resources), references=references)


def one_row(resource: dict[str, Any]) -> ObservationRow:
    result = mapped(resource)
    assert not result.rejected, result.rejected
    return result.observations[0]


def one_rejection(*resources: dict[str, Any] | None) -> Rejection:
    result = mapped(*resources)
    assert len(result.rejected) == 1, result
    return result.rejected[0]


def test_every_observation_field_maps_to_its_registry_column() -> None:
    resource = observation(
        "lab-1",
        code="1988-5",
        value={"valueQuantity": quantity(12, "mg/L")},
        collected="2024-02-25T08:30:00+01:00",
        issued="2024-02-26T09:15:00+01:00",
        referenceRange=[{"high": quantity(5, "mg/L")}],
    )
    row = one_row(resource)
    assert row.registry_row() == {
        "patient_id": "P1",
        "biomarker": "crp",
        "value": "12",
        "unit": "mg/L",
        "collected_at": "2024-02-25T08:30:00",
        "reported_at": "2024-02-26T09:15:00",
        "reference_high": "5",
    }
    assert (row.observation_id, row.status) == ("lab-1", "final")
    assert (row.original_value, row.original_unit) == ("12", "mg/L")


def test_issued_is_read_on_the_clock_of_the_collection_time() -> None:
    row = one_row(observation(collected="2024-02-25T23:30:00+01:00", issued="2024-02-25T23:00:00Z"))
    assert (row.collected_at, row.reported_at) == ("2024-02-25T23:30:00", "2024-02-26T00:00:00")


@pytest.mark.parametrize(
    ("effective", "collected"),
    [
        (
            {"effectivePeriod": {"start": "2024-02-25T08:00:00+01:00", "end": "2024-02-25T09:00:00+01:00"}},
            "2024-02-25T08:00:00",
        ),
        ({"effectiveInstant": "2024-02-25T08:00:00.5+01:00"}, "2024-02-25T08:00:00.500000"),
    ],
)
def test_effective_period_start_or_instant_is_the_collection_time(effective, collected) -> None:
    resource = observation() | effective
    del resource["effectiveDateTime"]
    assert one_row(resource).collected_at == collected


def test_a_bare_date_stays_a_date_and_issued_may_be_absent() -> None:
    row = one_row(observation(collected="2024-02-25", issued=None))
    assert (row.collected_at, row.reported_at) == ("2024-02-25", "")


@pytest.mark.parametrize(
    ("code", "biomarker"),
    [
        ("2532-0", "ldh"),
        ("14804-9", "ldh"),
        ("14805-6", "ldh"),
        ("751-8", "anc"),
        ("26499-4", "anc"),
        ("777-3", "platelets"),
        ("26515-7", "platelets"),
        ("778-1", "platelets"),
        ("731-0", "alc"),
        ("26474-7", "alc"),
        ("1988-5", "crp"),
        ("2276-4", "ferritin"),
        ("20567-4", "ferritin"),
        ("1751-7", "albumin"),
        ("61151-7", "albumin"),
        ("61152-5", "albumin"),
        ("2862-1", "albumin"),
        ("718-7", "hemoglobin"),
        ("20509-6", "hemoglobin"),
        ("59260-0", "hemoglobin"),
        ("2160-0", "creatinine"),
        ("38483-4", "creatinine"),
        ("14682-9", "creatinine"),
        ("1975-2", "bilirubin"),
        ("42719-5", "bilirubin"),
        ("14631-6", "bilirubin"),
        ("26881-3", "il6"),
        ("89247-1", "ecog"),
        ("8122-4", "cd3_count"),
        ("24467-3", "cd4_count"),
        ("14135-8", "cd8_count"),
    ],
)
def test_preferred_and_alternate_loinc_codes_name_their_biomarker(code, biomarker) -> None:
    assert mapped(observation(code=code)).observations[0].biomarker == biomarker


@pytest.mark.parametrize("name", ["suvmax", "tmtv", "tlg", "deauville", "ctdna", "car_peak", "ldh"])
def test_project_codes_name_every_biomarker(name) -> None:
    assert mapped(observation(code=project(name))).observations[0].biomarker == name


@pytest.mark.parametrize(
    ("code", "detail"),
    [
        (loinc("30522-7"), "30522-7"),
        (loinc("8124-0"), "8124-0"),
        ({"text": "LDH"}, "no coding"),
        ({"coding": [{"system": "http://snomed.info/sct", "code": "2532-0"}]}, "snomed"),
        ({"coding": [loinc("2532-0")["coding"][0], loinc("1988-5")["coding"][0]]}, "crp, ldh"),
    ],
)
def test_a_code_that_names_no_single_biomarker_is_an_unknown_biomarker(code, detail) -> None:
    rejection = one_rejection(observation(code=code))
    assert (rejection.reason, rejection.field) == ("unknown biomarker", "biomarker")
    assert detail in rejection.detail


@pytest.mark.parametrize(
    ("code", "given", "unit"),
    [
        ("777-3", "10*9/L", "10^9/L"),
        ("777-3", "10*3/uL", "10^3/uL"),
        ("751-8", "10*3/uL", "K/uL"),
        ("751-8", "/uL", "cells/uL"),
        ("751-8", "{cells}/uL", "cells/uL"),
        ("8122-4", "10*9/L", "10^9/L"),
        ("1988-5", "mg/L", "mg/L"),
        ("2276-4", "ug/L", "ug/L"),
        ("2532-0", "ukat/L", "ukat/L"),
        ("14682-9", "umol/L", "umol/L"),
        ("59260-0", "mmol/L", "mmol/L"),
        ("2532-0", "U/L", "U/L"),
    ],
)
def test_ucum_codes_are_read_in_the_catalogue_spelling_of_the_same_unit(code, given, unit) -> None:
    row = one_row(observation(code=code, value={"valueQuantity": quantity(1.5, given)}))
    assert (row.unit, row.original_unit) == (unit, given)


def test_project_units_and_unitless_quantities() -> None:
    def unit(code: str | dict, value: float, given: str) -> str:
        return one_row(observation(code=code, value={"valueQuantity": quantity(value, given)})).unit

    assert unit(project("suvmax"), 14.8, "{SUV}") == "SUV"
    assert unit(project("ctdna"), 2, "{hGE}/mL") == "hGE/mL"
    assert unit("89247-1", 1, "{score}") == ""


def test_a_unit_without_a_ucum_code_is_matched_as_written_and_an_unknown_one_passes_to_validation() -> None:
    text_only = {"valueQuantity": {"value": 150, "unit": "K/uL"}}
    assert one_row(observation(code="777-3", value=text_only)).unit == "K/uL"
    unknown = {"valueQuantity": quantity(1, "10*6/uL")}
    assert one_row(observation(code="777-3", value=unknown)).unit == "10*6/uL"


def test_reference_high_is_converted_to_the_unit_of_the_value() -> None:
    ranges = [{"low": quantity(2, "ukat/L")}, {"high": quantity(250, "U/L")}]
    row = one_row(observation(value={"valueQuantity": quantity(5, "ukat/L")}, referenceRange=ranges))
    assert (row.unit, row.reference_high) == ("ukat/L", "4.16666666667")
    assert one_row(observation(referenceRange=[{"high": {"value": 280}}])).reference_high == "280"
    rejection = one_rejection(observation(referenceRange=[{"high": quantity(1, "mol/s")}]))
    assert (rejection.reason, rejection.field) == ("unknown unit", "reference_high")


@pytest.mark.parametrize(
    ("comparator", "value", "stored"),
    [
        ("<", 0.3, "0"),
        ("<=", 0.3, "0"),
        (">", 3000, "3000.000003000"),
        (">=", 3000, "3000"),
        (None, 0.3, "0.3"),
    ],
)
def test_comparator_rule_below_is_zero_above_is_the_limit_strictly_for_gt(comparator, value, stored) -> None:
    row = one_row(observation(code="1988-5", value={"valueQuantity": quantity(value, "mg/dL", comparator)}))
    assert (row.value, row.original_value) == (stored, f"{comparator or ''}{value}")


def test_an_unknown_comparator_is_a_bad_value() -> None:
    rejection = one_rejection(observation(value={"valueQuantity": quantity(1, "U/L") | {"comparator": "ad"}}))
    assert (rejection.reason, rejection.field) == ("bad value", "value") and "'ad'" in rejection.detail


@pytest.mark.parametrize("status", ["final", "amended", "corrected"])
def test_final_amended_and_corrected_results_are_read(status) -> None:
    assert one_row(observation(status=status)).status == status


@pytest.mark.parametrize("status", ["preliminary", "registered", "cancelled", "entered-in-error", "unknown"])
def test_other_statuses_are_unusable(status) -> None:
    rejection = one_rejection(observation(status=status))
    assert (rejection.reason, rejection.field) == ("unusable status", "status") and status in rejection.detail


@pytest.mark.parametrize(
    ("value", "biomarker", "text"),
    [
        ({"valueInteger": 2}, "89247-1", "2"),
        ({"valueBoolean": True}, project("double_hit"), "true"),
        (
            {"valueCodeableConcept": {"coding": [{"system": "urn:x", "code": "PR"}], "text": "partial"}},
            project("bridging_response"),
            "PR",
        ),
        ({"valueCodeableConcept": {"text": "CR"}}, project("bridging_response"), "CR"),
        ({"valueString": "GCB"}, project("cell_of_origin"), "GCB"),
    ],
)
def test_integer_boolean_coded_and_text_values(value, biomarker, text) -> None:
    row = one_row(observation(code=biomarker, value=value))
    assert (row.value, row.unit) == (text, "")


@pytest.mark.parametrize(
    ("resource", "reason", "field"),
    [
        (
            observation(value={"dataAbsentReason": {"coding": [{"code": "not-performed"}]}}),
            "bad value",
            "value",
        ),
        (observation(patient="x") | {"subject": {"reference": "Group/7"}}, "unknown patient", "patient_id"),
        (observation() | {"subject": {"display": "Jane"}}, "unknown patient", "patient_id"),
        (observation(collected="2024-02"), "malformed date", "collected_at"),
        (observation(collected="2024-02-25T08:00:00"), "invalid resource", "effectiveDateTime"),
        (observation() | {"valueQuantity": {"value": "abc"}}, "invalid resource", "valueQuantity.value"),
        (observation() | {"flavour": "x"}, "invalid resource", "flavour"),
        ({"resourceType": "Encounter", "id": "e1"}, "unsupported resource", "resourceType"),
        (None, "unsupported resource", "resourceType"),
    ],
)
def test_resources_that_give_no_row_say_why(resource, reason, field) -> None:
    rejection = one_rejection(resource)
    assert (rejection.reason, rejection.field) == (reason, field)


def test_subject_references_resolve_with_a_base_url_history_or_bundle_full_url() -> None:
    full = observation() | {"subject": {"reference": "https://ehr.example/fhir/Patient/P7/_history/3"}}
    urn = observation() | {"subject": {"reference": "urn:uuid:0c3e"}}
    result = mapped(full, urn, references={"urn:uuid:0c3e": "P8"})
    assert [r.patient_id for r in result.observations] == ["P7", "P8"]


def test_a_patient_and_its_procedures_make_one_registry_row() -> None:
    result = mapped(*registered("P1"))
    assert [r.registry_row() for r in result.patients] == [
        {
            "patient_id": "P1",
            "center": "C1",
            "sex": "F",
            "age": "60",
            "product": "axi-cel",
            "apheresis_date": "2024-01-20",
            "infusion_date": "2024-03-01",
        }
    ]
    assert result.links == {1: 0, 2: 0} and not result.rejected


@pytest.mark.parametrize(
    ("extra", "column", "value"),
    [
        ({"gender": "male"}, "sex", "M"),
        ({"gender": "other"}, "sex", ""),
        ({"gender": None}, "sex", ""),
        ({"birthDate": "1964-01-21"}, "age", "59"),
        ({"birthDate": "1964-01-20"}, "age", "60"),
        ({"birthDate": "1964"}, "age", "59"),
        ({"birthDate": "1963-12"}, "age", "60"),
        ({"birthDate": None}, "age", ""),
        ({"managingOrganization": {"identifier": {"value": "C9"}}}, "center", "C9"),
        ({"managingOrganization": {"reference": "https://x.example/fhir/Organization/C8"}}, "center", "C8"),
        ({"managingOrganization": None}, "center", ""),
    ],
)
def test_patient_fields(extra, column, value) -> None:
    resources = registered("P1", **extra)
    resources[0] = {k: v for k, v in resources[0].items() if v is not None}
    assert mapped(*resources).patients[0].registry_row()[column] == value


def test_a_patient_apheresed_but_never_infused_has_no_infusion_date() -> None:
    result = mapped(patient("P1"), procedure("P1", APHERESIS))
    assert (result.patients[0].infusion_date, result.patients[0].product) == ("", "axi-cel")


def test_the_product_comes_from_the_infusion_or_else_the_apheresis() -> None:
    result = mapped(
        patient("P1"), procedure("P1", APHERESIS, product="tisa-cel"), procedure("P1", INFUSION, product=None)
    )
    assert result.patients[0].product == "tisa-cel"


@pytest.mark.parametrize(
    ("procedures", "reason", "field"),
    [
        ([procedure("P1", INFUSION)], "malformed date", "apheresis_date"),
        ([procedure("P1", APHERESIS, product=None)], "bad value", "product"),
        (
            [procedure("P1", APHERESIS, product="tisa-cel"), procedure("P1", INFUSION)],
            "conflicting report",
            "product",
        ),
    ],
)
def test_a_patient_without_required_data_is_rejected_with_its_procedures(procedures, reason, field) -> None:
    result = mapped(patient("P1"), *procedures)
    assert not result.patients and not result.links
    assert {(r.resource_type, r.reason, r.field) for r in result.rejected} == {
        ("Patient", reason, field),
        ("Procedure", reason, field),
    }
    assert len(result.rejected) == 1 + len(procedures)


def test_repeated_procedures_are_duplicates_and_different_ones_conflict() -> None:
    repeat = mapped(*registered("P1"), procedure("P1", INFUSION, rid="again"))
    assert [(r.key, r.reason, r.field) for r in repeat.rejected] == [(3, "duplicate", "row")]
    assert repeat.patients[0].infusion_date == "2024-03-01"
    two_days = mapped(*registered("P1"), procedure("P1", APHERESIS, performed="2024-01-25", rid="second"))
    assert sorted((r.key, r.reason) for r in two_days.rejected) == [
        (0, "malformed date"),
        (1, "conflicting report"),
        (2, "malformed date"),
        (3, "conflicting report"),
    ]


@pytest.mark.parametrize(
    ("resource", "reason", "field"),
    [
        (procedure(status="in-progress"), "unusable status", "status"),
        (
            procedure() | {"code": {"coding": [{"system": "http://snomed.info/sct", "code": "1"}]}},
            "unsupported resource",
            "resourceType",
        ),
        (
            procedure() | {"usedCode": [{"coding": [{"system": PRODUCT_SYSTEM, "code": "cilta-cel"}]}]},
            "bad value",
            "product",
        ),
        (procedure(performed="2024-03"), "malformed date", "infusion_date"),
        (procedure() | {"subject": {"reference": "Group/1"}}, "unknown patient", "patient_id"),
    ],
)
def test_procedures_that_give_nothing_say_why(resource, reason, field) -> None:
    result = mapped(patient("P1"), procedure("P1", APHERESIS), resource)
    assert [(r.key, r.reason, r.field) for r in result.rejected] == [(2, reason, field)]


def test_performed_period_start_and_a_time_give_the_local_day() -> None:
    infusion = procedure() | {"performedPeriod": {"start": "2024-03-01T23:30:00-05:00"}}
    del infusion["performedDateTime"]
    result = mapped(patient("P1"), procedure("P1", APHERESIS), infusion)
    assert result.patients[0].infusion_date == "2024-03-01"


def test_a_cds_prefetch_of_observations_and_the_infusion_maps_without_a_patient() -> None:
    crp = observation("o2", code="1988-5", value={"valueQuantity": quantity(8, "mg/L")})
    result = mapped(observation("o1"), crp, procedure("P1", INFUSION))
    rows = [(o.biomarker, o.value, o.unit) for o in result.observations]
    assert rows == [("ldh", "300", "U/L"), ("crp", "8", "mg/L")]
    assert [(p.kind, p.day, p.product) for p in result.procedures] == [(INFUSION, "2024-03-01", "axi-cel")]
    assert [p.key for p in result.unlinked_procedures] == [2] and not result.patients and not result.rejected
