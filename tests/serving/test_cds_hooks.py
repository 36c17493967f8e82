"""CDS Hooks services: discovery, cards, the point-in-time rule on the prefetch, 412/404/422, feedback."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from features.catalogue import load_catalogue
from features.fhir_terms import APHERESIS, BIOMARKER_SYSTEM, INFUSION, LOINC
from serving.cds.cards import EXTENSION, INDICATORS
from serving.cds.schemas import CardsResponse, DiscoveryResponse
from serving.cds.services import observation_codes

from .cds_factories import (
    AFTER,
    URL,
    at,
    cds_body,
    day,
    observation,
    patient,
    procedure,
    project,
    quantity,
    registered,
    searchset,
)

CET = timezone(timedelta(hours=1))


@pytest.fixture
def cds(make_client):
    """A token-less server's client on loopback (CDS open without a JWKS), answering as of ``AFTER``."""
    return at(make_client(client_host="127.0.0.1"), AFTER)


def ldh(
    oid: str, value: float, *, collected: int | str = -5, issued: int | str | None = -4, **extra: Any
) -> dict:
    return observation(
        oid,
        code="2532-0",
        value={"valueQuantity": quantity(value, "U/L")},
        collected=collected,
        issued=issued,
        **extra,
    )


def call(client, landmark: str, resources: list[dict], **extra: Any) -> dict[str, Any]:
    response = client.post(URL.format(landmark), json=cds_body(resources, **extra))
    assert response.status_code == 200, response.text
    return CardsResponse.model_validate(response.json()).model_dump(exclude_none=True)


def sent_features(client, card: dict[str, Any]) -> dict[str, Any]:
    """The features the card's prediction used (kept for the clinician page under the link's id)."""
    handoff = client.app.state.handoff.get(card["links"][0]["url"].rsplit("/", 1)[1])
    return handoff.features


def test_discovery_lists_one_patient_view_service_per_landmark(cds):
    body = DiscoveryResponse.model_validate(cds.get("/cds-services").json())
    assert [s.id for s in body.services] == ["cart-relapse-preinfusion", "cart-relapse-day30"]
    catalogue = load_catalogue()
    for service, landmark in zip(body.services, ("preinfusion", "day30"), strict=True):
        assert service.hook == "patient-view" and service.title and "synthetic" in service.description
        assert service.prefetch["patient"] == "Patient/{{context.patientId}}"
        assert service.prefetch["infusion"] == (
            "Procedure?patient={{context.patientId}}&code="
            "https://cart-relapse.dev/fhir/CodeSystem/procedure|car-t-infusion,"
            "https://cart-relapse.dev/fhir/CodeSystem/procedure|apheresis"
        )
        query = service.prefetch["observations"]
        assert query.startswith("Observation?patient={{context.patientId}}&code=")
        assert query.split("&code=")[1].split(",") == observation_codes(catalogue, landmark)
    day30_only = {f"{BIOMARKER_SYSTEM}|car_peak", f"{BIOMARKER_SYSTEM}|car_day28"}
    assert day30_only <= set(observation_codes(catalogue, "day30"))
    assert not day30_only & set(observation_codes(catalogue, "preinfusion"))
    assert {f"{LOINC}|2532-0", f"{LOINC}|14804-9", f"{BIOMARKER_SYSTEM}|ldh"} <= set(
        observation_codes(catalogue, "preinfusion")
    )


def test_a_card_carries_the_risk_the_api_gives_for_the_same_features(cds):
    resources = [
        *registered(),
        ldh("o1", 410, referenceRange=[{"high": quantity(280, "U/L")}]),
        observation("o2", code="1988-5", value={"valueQuantity": quantity(35, "mg/L")}, collected=-6),
        observation("o3", code="89247-1", value={"valueInteger": 2}, collected=-10),
        observation(
            "o4",
            code=project("bridging_type"),
            value={"valueCodeableConcept": {"coding": [{"system": BIOMARKER_SYSTEM, "code": "systemic"}]}},
            collected=-8,
        ),
        observation("o5", code=project("primary_refractory"), value={"valueBoolean": True}, collected=-40),
        observation(
            "o6",
            code=project("ctdna"),
            value={"valueQuantity": quantity(12, "{hGE}/mL")},
            collected=28,
            issued=29,
        ),
    ]
    for landmark in ("preinfusion", "day30"):
        (card,) = call(cds, landmark, resources)["cards"]
        numbers = card["extension"][EXTENSION]
        features = sent_features(cds, card)
        expected = {
            "age": 60.0,
            "sex": "F",
            "product": "axi-cel",
            "vein_to_vein_days": 41.0,
            "ldh_preld": {"value": 410.0, "unit": "U/L", "reference_high": 280.0},
            "crp_preld": {"value": 35.0, "unit": "mg/L"},
            "ecog_preld": 2,
            "bridging_type_preld": "systemic",
            "primary_refractory_apheresis": True,
        }
        assert features == expected | ({"ctdna_day30": 12.0} if landmark == "day30" else {})
        api = cds.post(f"/v1/predict/{landmark}", json={"features": features}).json()
        assert numbers["relapse_probability"] == api["relapse_probability"]
        assert numbers["risk_curve"] == api["risk_curve"] and numbers["margin"] == api["margin"]
        assert (
            numbers["risk_group"] == api["risk_group"] and card["indicator"] == INDICATORS[api["risk_group"]]
        )
        assert numbers["landmark_date"] == day(0 if landmark == "preinfusion" else 30)
        assert numbers["model"] == {"name": f"cart-relapse-{landmark}", "version": "7"}
        assert card["source"]["label"] == f"cart-relapse-{landmark} version 7 (synthetic data)"
        assert len(card["summary"]) < 140 and card["summary"].endswith("synthetic-data model)")
        assert (
            f"{100 * api['relapse_probability']:.1f}% risk of progression or death by 12 months"
            in card["summary"]
        )
        assert f"({api['risk_group']} risk group" in card["summary"]
        detail = card["detail"]
        assert "| 3 months | 6 months | 12 months | 24 months |" in detail
        assert " | ".join(f"{100 * api['risk_curve'][h]:.1f}%" for h in ("90", "180", "365", "730")) in detail
        assert detail.count("(`") == 5 and "**Top drivers**" in detail  # five drivers, each with its name
        top = api["explanation"]["contributions"][0]
        unit = {s.name: s.unit for s in load_catalogue().feature_specs(landmark)}[top["feature"]]
        value = top["value"]
        shown = (
            "missing" if value is None else value if isinstance(value, str) else f"{value:.4g} {unit}".strip()
        )
        assert f"(`{top['feature']}`) | {shown} |" in detail and api["notice"] in detail
        assert f"**Missing** ({len(api['missing_features'])} of " in detail
        assert ("progression at day 30" in detail) == (landmark == "day30")
        link = card["links"][0]
        assert link["type"] == "absolute" and link["url"].startswith(
            f"http://testserver/ui/{landmark}/from-card/"
        )


@pytest.mark.parametrize(
    ("case", "resources", "expected", "reasons"),
    [
        (
            "the latest collected wins",
            [ldh("a", 300, collected=-10), ldh("b", 350, collected=-6), ldh("c", 320, collected=-8)],
            350.0,
            {},
        ),
        (
            "an amendment issued later wins",
            [
                ldh("a", 300, issued="2024-02-25T10:00:00+01:00"),
                ldh("b", 380, issued="2024-02-25T15:00:00+01:00", status="amended"),
            ],
            380.0,
            {},
        ),
        (
            "reported after the landmark day",
            [ldh("a", 300, collected=-10), ldh("b", 350, collected=-4, issued=1)],
            300.0,
            {},
        ),
        (
            "collected outside the windows",
            [ldh("a", 300, collected=-10), ldh("b", 350, collected=-1, issued=-1)],
            300.0,
            {},
        ),
        (
            "a conflicting report drops both",
            [ldh("a", 300, collected=-10), ldh("b", 350), ldh("c", 360)],
            300.0,
            {"conflicting report": 2},
        ),
        ("identical repeats count once", [ldh("a", 350), ldh("b", 350)], 350.0, {}),
        (
            "preliminary results are not read",
            [ldh("a", 300, collected=-10), ldh("b", 350, status="preliminary")],
            300.0,
            {"unusable status": 1},
        ),
        (
            "another patient's result",
            [ldh("a", 300, collected=-10), ldh("b", 350, patient="P2")],
            300.0,
            {"unknown patient": 1},
        ),
        ("out of range", [ldh("a", 300, collected=-10), ldh("b", 35000)], 300.0, {"out of range": 1}),
        (
            "unknown unit",
            [
                ldh("a", 300, collected=-10),
                observation("b", code="2532-0", value={"valueQuantity": quantity(3, "mmol/L")}),
            ],
            300.0,
            {"unknown unit": 1},
        ),
        (
            "reported before collected",
            [
                ldh("a", 300, collected=-10),
                ldh("b", 350, collected="2024-02-25T12:00:00+01:00", issued="2024-02-25T09:00:00+01:00"),
            ],
            300.0,
            {"reported before collected": 1},
        ),
        ("nothing in the window", [ldh("a", 300, collected=-40, issued=-40)], None, {}),
    ],
)
def test_the_point_in_time_rule_picks_what_ingest_and_the_store_would(
    cds, case, resources, expected, reasons
):
    (card,) = call(cds, "preinfusion", [*registered(), *resources])["cards"]
    chosen = sent_features(cds, card).get("ldh_preld")
    assert (
        chosen if chosen is None else chosen["value"] if isinstance(chosen, dict) else chosen
    ) == expected, case
    for reason, count in reasons.items():
        assert f"{count} {reason}" in card["detail"], (case, card["detail"])
    if not reasons:
        assert "**Not used**" not in card["detail"], case


def test_only_results_issued_before_the_request_count(make_client):
    client = at(make_client(client_host="127.0.0.1"), datetime(2024, 3, 1, 9, 30, tzinfo=CET))
    resources = [
        *registered(),
        ldh("early", 300, collected=-4, issued="2024-03-01T08:00:00+01:00"),
        ldh("late", 450, collected=-3, issued="2024-03-01T10:00:00+01:00"),
    ]
    (card,) = call(client, "preinfusion", resources)["cards"]
    assert sent_features(client, card)["ldh_preld"] == 300.0
    assert "1 issued after this request" in card["detail"]
    at(client, datetime(2024, 3, 1, 10, 30, tzinfo=CET))
    (card,) = call(client, "preinfusion", resources)["cards"]
    assert sent_features(client, card)["ldh_preld"] == 450.0


@pytest.mark.parametrize(
    ("landmark", "now", "resources", "summary", "message"),
    [
        ("day30", AFTER, [patient(), procedure(kind=APHERESIS)], None, None),
        (
            "preinfusion",
            AFTER,
            [patient(), procedure(kind=INFUSION)],
            "no risk given (no patient row)",
            "no completed apheresis Procedure",
        ),
        (
            "day30",
            datetime(2024, 3, 20, tzinfo=UTC),
            registered(),
            "no risk given (not yet)",
            "applies from day 30 after infusion, 2024-03-31 (infused 2024-03-01)",
        ),
        (
            "preinfusion",
            datetime(2024, 2, 20, tzinfo=UTC),
            registered(),
            "no risk given (not yet)",
            "2024-03-01",
        ),
        (
            "preinfusion",
            AFTER,
            registered(deceasedDateTime="2024-09-01"),
            "no risk given (deceased)",
            "records a death",
        ),
        (
            "day30",
            AFTER,
            [
                patient(),
                procedure(kind=APHERESIS),
                procedure(kind=INFUSION),
                procedure(kind=INFUSION, performed="2024-03-05", rid="second"),
            ],
            "no risk given (no patient row)",
            "different days",
        ),
    ],
)
def test_no_risk_without_an_infusion_too_early_after_death_or_with_an_incomplete_record(
    make_client, landmark, now, resources, summary, message
):
    cards = call(at(make_client(client_host="127.0.0.1"), now), landmark, resources)["cards"]
    if summary is None:
        assert cards == []  # not a CAR-T patient (no infusion): nothing to say
        return
    (card,) = cards
    assert card["indicator"] == "info" and summary in card["summary"] and message in card["detail"]
    assert "links" not in card and "extension" not in card and "SYNTHETIC" in card["detail"]


def body_without(key: str) -> dict[str, Any]:
    body = cds_body(registered())
    del body["prefetch"][key]
    return body


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (cds_body(registered()) | {"prefetch": None}, "'patient', 'infusion', 'observations' missing"),
        (body_without("patient"), "'patient' missing"),
        (body_without("infusion"), "'infusion' missing"),
        (
            body_without("observations")
            | {
                "fhirServer": "https://ehr.example.org/fhir",
                "fhirAuthorization": {
                    "access_token": "x",
                    "token_type": "Bearer",
                    "expires_in": 60,
                    "scope": "patient/*.read",
                    "subject": "cds",
                },
            },
            "'observations' missing: this service does not query the FHIR server (fhirServer and "
            "fhirAuthorization are not used)",
        ),
        (
            cds_body(registered()) | {"prefetch": {"patient": None, "infusion": None, "observations": None}},
            "'patient' is null",
        ),
        (
            cds_body(registered())
            | {
                "prefetch": {
                    **cds_body(registered())["prefetch"],
                    "observations": {
                        "resourceType": "OperationOutcome",
                        "issue": [{"severity": "error", "code": "timeout"}],
                    },
                }
            },
            "'observations' is an OperationOutcome",
        ),
        (
            cds_body(registered())
            | {
                "prefetch": {
                    **cds_body(registered())["prefetch"],
                    "observations": searchset([])
                    | {"link": [{"relation": "next", "url": "https://ehr.example.org/fhir?page=2"}]},
                }
            },
            "one page of several",
        ),
    ],
)
def test_missing_or_incomplete_prefetch_is_412_with_the_reason(cds, body, says):
    response = cds.post(URL.format("day30"), json=body)
    assert response.status_code == 412, response.text
    assert says in response.json()["detail"]


def test_null_procedures_or_observations_mean_no_such_data(cds):
    body = cds_body(registered())
    assert cds.post(
        URL.format("day30"), json=body | {"prefetch": {**body["prefetch"], "infusion": None}}
    ).json() == {"cards": []}
    (card,) = cds.post(
        URL.format("day30"), json=body | {"prefetch": {**body["prefetch"], "observations": None}}
    ).json()["cards"]
    assert set(sent_features(cds, card)) == {"age", "sex", "product", "vein_to_vein_days"}


@pytest.mark.parametrize(
    ("change", "status", "where"),
    [
        ({"hook": "order-sign"}, 422, ["body", "hook"]),
        ({"context": {}}, 422, ["body", "context", "patientId"]),
        ({"context": {"patientId": "P1/../x"}}, 422, ["body", "context", "patientId"]),
        ({"hookInstance": ""}, 422, ["body", "hookInstance"]),
        (
            {"prefetch": {"patient": patient("P2"), "infusion": None, "observations": None}},
            422,
            ["body", "prefetch", "patient", "id"],
        ),
        (
            {
                "prefetch": {
                    "patient": {"resourceType": "Observation"},
                    "infusion": None,
                    "observations": None,
                }
            },
            422,
            ["body", "prefetch", "patient"],
        ),
        (
            {"prefetch": {"patient": patient(), "infusion": None, "observations": [observation()]}},
            422,
            ["body", "prefetch", "observations"],
        ),
        (
            {
                "prefetch": {
                    "patient": patient(),
                    "infusion": None,
                    "observations": {"resourceType": "Bundle", "entry": [1]},
                }
            },
            422,
            ["body", "prefetch", "observations", "entry"],
        ),
    ],
)
def test_a_bad_body_is_422_naming_the_field(cds, change, status, where):
    response = cds.post(URL.format("preinfusion"), json=cds_body(registered()) | change)
    assert response.status_code == status, response.text
    assert response.json()["detail"][0]["loc"] == where


def test_malformed_json_unknown_service_and_unloaded_model(cds, make_client):
    broken = cds.post(URL.format("day30"), content=b'{"hook": ', headers={"content-type": "application/json"})
    assert broken.status_code == 422
    unknown = cds.post("/cds-services/cart-relapse-day90", json=cds_body(registered()))
    assert (
        unknown.status_code == 404
        and "expected one of ['cart-relapse-preinfusion', 'cart-relapse-day30']" in unknown.text
    )
    assert cds.post("/cds-services/nope/feedback", json={"feedback": []}).status_code == 404
    loading = make_client(models={}, loader=lambda _settings: {}, client_host="127.0.0.1")
    response = loading.post(URL.format("day30"), json=cds_body(registered()))
    assert response.status_code == 503 and "still loading" in response.text


def test_resources_of_another_type_in_a_prefetch_bundle_are_not_used(cds):
    body = cds_body([*registered(), ldh("o1", 300)])
    body["prefetch"]["observations"]["entry"].append({"resource": procedure(rid="stray")})
    body["prefetch"]["observations"]["entry"].append(
        {"resource": {"resourceType": "OperationOutcome", "issue": []}, "search": {"mode": "outcome"}}
    )  # a search warning: skipped
    body["prefetch"]["observations"]["entry"].append(
        {"fullUrl": "https://ehr.example.org/fhir/Observation/gone"}
    )
    (card,) = cds.post(URL.format("preinfusion"), json=body).json()["cards"]
    assert sent_features(cds, card)["ldh_preld"] == 300.0 and "2 unsupported resource" in card["detail"]


def test_feedback_is_accepted_and_logged_without_patient_data(cds, caplog):
    caplog.set_level(logging.INFO, logger="cart_relapse")
    (card,) = cds.post(
        URL.format("day30"), json=cds_body(registered("PIDCDS4242"), patient_id="PIDCDS4242")
    ).json()["cards"]
    feedback = {
        "feedback": [
            {
                "card": card["uuid"],
                "outcome": "overridden",
                "outcomeTimestamp": "2025-06-01T12:00:00Z",
                "overrideReason": {
                    "reason": {"code": "x", "system": "https://ehr.example.org"},
                    "userComment": "Mrs Example-Patient, 88 kg, declined",
                },
            },
            {
                "card": card["uuid"],
                "outcome": "accepted",
                "acceptedSuggestions": [],
                "outcomeTimestamp": "2025-06-01T12:01:00Z",
            },
        ]
    }
    response = cds.post(URL.format("day30") + "/feedback", json=feedback)
    assert response.status_code == 200 and response.json() == {"received": 2}
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("cart_relapse")]
    assert (
        f"cds feedback service=cart-relapse-day30 card={card['uuid']} outcome=overridden "
        "accepted_suggestions=0 "
        "override_reason=given" in lines
    )
    assert any(line.startswith("cds call service=cart-relapse-day30 cards=1") for line in lines)
    text = "\n".join(lines) + repr([vars(r) for r in caplog.records])
    assert "PIDCDS4242" not in text and "Example-Patient" not in text and "88 kg" not in text
    assert (
        cds.post(
            URL.format("day30") + "/feedback",
            json={"feedback": [{"card": "x", "outcome": "maybe", "outcomeTimestamp": "t"}]},
        ).status_code
        == 422
    )


def test_card_links_use_the_public_url_when_one_is_set(make_client):
    client = at(make_client(client_host="127.0.0.1", public_url="https://cds.example.org/cart/"), AFTER)
    (card,) = call(client, "day30", registered())["cards"]
    assert card["links"][0]["url"].startswith("https://cds.example.org/cart/ui/day30/from-card/")
